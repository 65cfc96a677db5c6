//! A zero-copy reader for the SVR4 "newc" cpio format, the format of a Linux initramfs.
//!
//! Each member is a 110-byte ASCII header (magic `070701`, then thirteen 8-digit hex fields), the
//! NUL-terminated name padded so that header + name is a multiple of 4 bytes, and the data padded
//! to a multiple of 4 bytes. A member named `TRAILER!!!` ends the archive. As Linux does, tidemark
//! accepts several archives one after the other, with NUL padding between and after them (GNU
//! `cpio` pads its output to 512-byte blocks), and also the `070702` variant, whose checksum it
//! verifies. Compressed images are recognised and refused with [`CpioError::Compressed`].
//!
//! [`Initramfs::parse`] validates the whole image once, so iterating afterwards cannot fail; names
//! and data are slices of the image itself.

use core::fmt;

const HEADER_LEN: usize = 110;
const MAGIC_NEWC: &[u8; 6] = b"070701";
const MAGIC_CRC: &[u8; 6] = b"070702";
const TRAILER: &str = "TRAILER!!!";

/// File type bits of `mode`, as in `st_mode`.
pub use tidemark_abi::layout::{S_IFDIR, S_IFMT, S_IFREG};

/// The thirteen header fields, in order.
const FIELDS: [&str; 13] = [
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];

/// Why an image is not a valid newc archive. `offset` is the byte offset, within the image, of
/// the member header concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpioError {
    /// A member does not start with `070701` (or `070702`).
    BadMagic { offset: usize },
    /// The image is compressed (`format` names the compressor); tidemark reads only plain cpio.
    Compressed { format: &'static str },
    /// A header field holds a character that is not a hex digit.
    BadHex { offset: usize, field: &'static str },
    /// The image ends inside a member header.
    TruncatedHeader { offset: usize },
    /// The image ends inside a member name.
    TruncatedName { offset: usize },
    /// The image ends inside a member's data.
    TruncatedData { offset: usize },
    /// A name is empty, not NUL-terminated, contains a NUL or is not UTF-8.
    BadName { offset: usize },
    /// A member's extent does not fit in the address space.
    Overflow { offset: usize },
    /// A `070702` member's data does not match its checksum.
    BadChecksum { offset: usize },
    /// The image (or its last archive) has no `TRAILER!!!` member.
    MissingTrailer,
}

impl fmt::Display for CpioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CpioError::BadMagic { offset } => write!(
                f,
                "cpio: no newc magic (070701) at offset {offset:#x}; not a newc archive"
            ),
            CpioError::Compressed { format } => write!(
                f,
                "cpio: the initramfs is {format}-compressed; only uncompressed newc is supported"
            ),
            CpioError::BadHex { offset, field } => write!(
                f,
                "cpio: header at offset {offset:#x} has a non-hex digit in its {field} field"
            ),
            CpioError::TruncatedHeader { offset } => {
                write!(f, "cpio: archive ends inside the header at offset {offset:#x}")
            }
            CpioError::TruncatedName { offset } => write!(
                f,
                "cpio: archive ends inside the name of the member at offset {offset:#x}"
            ),
            CpioError::TruncatedData { offset } => write!(
                f,
                "cpio: archive ends inside the data of the member at offset {offset:#x}"
            ),
            CpioError::BadName { offset } => write!(
                f,
                "cpio: the member at offset {offset:#x} has an empty, unterminated or non-UTF-8 name"
            ),
            CpioError::Overflow { offset } => {
                write!(f, "cpio: the member at offset {offset:#x} has an impossible size")
            }
            CpioError::BadChecksum { offset } => write!(
                f,
                "cpio: the data of the member at offset {offset:#x} does not match its checksum"
            ),
            CpioError::MissingTrailer => f.write_str("cpio: archive has no TRAILER!!! member"),
        }
    }
}

/// A regular file or directory of the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Path inside the archive without a leading `./` or `/` (the root directory, `.`, is `""`).
    pub name: &'a str,
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    /// The file contents (empty for directories), a slice of the image.
    pub data: &'a [u8],
}

impl Entry<'_> {
    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
    /// Permission bits (including set-id and sticky).
    pub fn permissions(&self) -> u32 {
        self.mode & 0o7777
    }
}

/// A validated initramfs image.
#[derive(Clone, Copy, Debug)]
pub struct Initramfs<'a> {
    image: &'a [u8],
}

impl<'a> Initramfs<'a> {
    /// An initramfs with no files, for a boot without `-initrd`.
    pub const fn empty() -> Self {
        Self { image: &[] }
    }

    /// Validates `image` (one or more newc archives, each ending with `TRAILER!!!`, optionally
    /// followed by NUL padding). Never panics, whatever the bytes.
    pub fn parse(image: &'a [u8]) -> Result<Self, CpioError> {
        let mut w = Walker::new(image);
        while w.step()?.is_some() {}
        Ok(Self { image })
    }

    /// Regular files and directories, in archive order. Other members (symlinks, devices, FIFOs,
    /// sockets) are skipped. A hard-linked file appears under each of its names with the data.
    pub fn iter(&self) -> Iter<'a> {
        Iter {
            walker: Walker::new(self.image),
        }
    }

    /// Every member (symlinks, devices and FIFOs too), for unpacking.
    pub fn members(&self) -> Members<'a> {
        Members(Walker::new(self.image))
    }

    /// The entry at `path` ("/init", "init" and "./init" are the same; a trailing `/` is
    /// ignored). If the archive holds the path more than once, the last one wins, as when Linux
    /// unpacks it.
    pub fn find(&self, path: &str) -> Option<Entry<'a>> {
        let want = normalize(path);
        self.iter().filter(|e| e.name == want).last()
    }

    /// The image itself.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.image
    }
}

impl<'a> IntoIterator for &Initramfs<'a> {
    type Item = Entry<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over an [`Initramfs`].
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    walker: Walker<'a>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Entry<'a>;
    fn next(&mut self) -> Option<Entry<'a>> {
        loop {
            // The image was validated by `parse`, so errors cannot occur; stop if one does.
            let m = self.walker.step().ok()??;
            let kind = m.mode & S_IFMT;
            if kind != S_IFREG && kind != S_IFDIR {
                continue;
            }
            let data = if kind == S_IFREG && m.nlink > 1 && m.data.is_empty() {
                // newc stores a hard-linked file's data with the last of its links.
                self.walker.clone().link_data(&m).unwrap_or(m.data)
            } else {
                m.data
            };
            return Some(Entry {
                name: normalize(m.name),
                mode: m.mode,
                data,
            });
        }
    }
}

/// `./a`, `/a`, `.//a` and `a` all name `a`; `.` and `/` name the root, `""`.
fn normalize(mut p: &str) -> &str {
    loop {
        let q = p.trim_start_matches('/');
        let q = q.strip_prefix("./").unwrap_or(q);
        if q.len() == p.len() {
            break;
        }
        p = q;
    }
    let p = p.trim_end_matches('/');
    if p == "." {
        ""
    } else {
        p
    }
}

/// One member, as stored: every field the unpacker needs (`init/initramfs.c` reads the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member<'a> {
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub devmajor: u32,
    pub devminor: u32,
    pub rdevmajor: u32,
    pub rdevminor: u32,
    /// As stored (see [`Member::path`]).
    pub name: &'a str,
    /// The file's contents, or a symlink's target.
    pub data: &'a [u8],
}

impl<'a> Member<'a> {
    /// The path without leading `./` or `/` (the root is `""`).
    pub fn path(&self) -> &'a str {
        normalize(self.name)
    }
}

/// Every member of an [`Initramfs`], of every type, in archive order.
#[derive(Clone, Debug)]
pub struct Members<'a>(Walker<'a>);

impl<'a> Iterator for Members<'a> {
    type Item = Member<'a>;
    fn next(&mut self) -> Option<Member<'a>> {
        self.0.step().ok()?
    }
}

/// Walks members across concatenated archives.
#[derive(Clone, Debug)]
struct Walker<'a> {
    image: &'a [u8],
    pos: usize,
    /// Offset of the current archive's first byte; padding is relative to it.
    base: usize,
    in_archive: bool,
    seen_trailer: bool,
}

/// `x` rounded up to a multiple of 4 relative to `base`, at most `limit`.
fn align4(x: usize, base: usize, limit: usize) -> usize {
    let rel = x - base;
    match rel.checked_add(3) {
        Some(r) => base.saturating_add(r & !3).min(limit),
        None => limit,
    }
}

fn hex8(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        let d = (c as char).to_digit(16)?;
        v = (v << 4) | d;
    }
    Some(v)
}

fn compression(b: &[u8]) -> Option<&'static str> {
    const MAGICS: [(&[u8], &str); 7] = [
        (b"\x1f\x8b", "gzip"),
        (b"BZh", "bzip2"),
        (b"\xfd7zXZ\x00", "xz"),
        (b"\x5d\x00\x00", "lzma"),
        (b"\x89LZO", "lzo"),
        (b"\x02\x21\x4c\x18", "lz4"),
        (b"\x28\xb5\x2f\xfd", "zstd"),
    ];
    MAGICS
        .iter()
        .find(|(m, _)| b.starts_with(m))
        .map(|&(_, name)| name)
}

impl<'a> Walker<'a> {
    fn new(image: &'a [u8]) -> Self {
        Self {
            image,
            pos: 0,
            base: 0,
            in_archive: false,
            seen_trailer: false,
        }
    }

    /// The next member other than a trailer, `None` at the end of the image.
    fn step(&mut self) -> Result<Option<Member<'a>>, CpioError> {
        let len = self.image.len();
        loop {
            if !self.in_archive {
                while self.pos < len && self.image[self.pos] == 0 {
                    self.pos += 1;
                }
                if self.pos == len {
                    return if self.seen_trailer {
                        Ok(None)
                    } else {
                        Err(CpioError::MissingTrailer)
                    };
                }
                if let Some(format) = compression(&self.image[self.pos..]) {
                    return Err(CpioError::Compressed { format });
                }
                self.base = self.pos;
                self.in_archive = true;
            }
            if self.pos >= len {
                return Err(CpioError::MissingTrailer);
            }
            let m = self.member()?;
            if m.name == TRAILER {
                self.in_archive = false;
                self.seen_trailer = true;
                continue;
            }
            return Ok(Some(m));
        }
    }

    /// Parses the member at `pos` and moves past it.
    fn member(&mut self) -> Result<Member<'a>, CpioError> {
        let image = self.image;
        let offset = self.pos;
        let len = image.len();
        let header = match offset.checked_add(HEADER_LEN) {
            Some(end) if end <= len => &image[offset..end],
            Some(_) => return Err(CpioError::TruncatedHeader { offset }),
            None => return Err(CpioError::Overflow { offset }),
        };
        let crc = match &header[..6] {
            m if m == MAGIC_NEWC => false,
            m if m == MAGIC_CRC => true,
            _ => return Err(CpioError::BadMagic { offset }),
        };
        let mut f = [0u32; 13];
        for (i, v) in f.iter_mut().enumerate() {
            let start = 6 + 8 * i;
            *v = hex8(&header[start..start + 8]).ok_or(CpioError::BadHex {
                offset,
                field: FIELDS[i],
            })?;
        }
        let [ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check] =
            f;

        let name_start = offset + HEADER_LEN;
        if namesize == 0 {
            return Err(CpioError::BadName { offset });
        }
        let name_end = name_start
            .checked_add(namesize as usize)
            .ok_or(CpioError::Overflow { offset })?;
        if name_end > len {
            return Err(CpioError::TruncatedName { offset });
        }
        let name = match image[name_start..name_end].split_last() {
            Some((0, name)) if !name.contains(&0) => {
                core::str::from_utf8(name).map_err(|_| CpioError::BadName { offset })?
            }
            _ => return Err(CpioError::BadName { offset }),
        };
        if name.is_empty() {
            return Err(CpioError::BadName { offset });
        }

        let data_start = align4(name_end, self.base, len);
        let data_end = data_start
            .checked_add(filesize as usize)
            .ok_or(CpioError::Overflow { offset })?;
        if data_end > len {
            return Err(CpioError::TruncatedData { offset });
        }
        let data = &image[data_start..data_end];
        if crc && data.iter().fold(0u32, |s, &b| s.wrapping_add(u32::from(b))) != check {
            return Err(CpioError::BadChecksum { offset });
        }
        self.pos = align4(data_end, self.base, len);
        Ok(Member {
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            devmajor,
            devminor,
            rdevmajor,
            rdevminor,
            name,
            data,
        })
    }

    /// The data of the hard link to `m` that carries it, searching the rest of `m`'s archive.
    fn link_data(&mut self, m: &Member<'a>) -> Option<&'a [u8]> {
        while self.in_archive {
            let o = self.step().ok()??;
            if o.ino == m.ino
                && o.devmajor == m.devmajor
                && o.devminor == m.devminor
                && o.mode & S_IFMT == S_IFREG
                && !o.data.is_empty()
            {
                return Some(o.data);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// A member for the test writer.
    struct M<'s> {
        name: &'s str,
        mode: u32,
        data: &'s [u8],
        ino: u32,
        nlink: u32,
    }

    fn m<'s>(name: &'s str, mode: u32, data: &'s [u8]) -> M<'s> {
        M {
            name,
            mode,
            data,
            ino: 0,
            nlink: 1,
        }
    }

    fn push_member(
        out: &mut Vec<u8>,
        magic: &str,
        ino: u32,
        mode: u32,
        nlink: u32,
        name: &str,
        data: &[u8],
    ) {
        let check = if magic == "070702" {
            data.iter().fold(0u32, |s, &b| s.wrapping_add(b as u32))
        } else {
            0
        };
        let fields = [
            ino,
            mode,
            0,
            0,
            nlink,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            check,
        ];
        let mut h = String::from(magic);
        for v in fields {
            h.push_str(&alloc::format!("{v:08X}"));
        }
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(data);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    /// A tiny newc writer, the reference for these tests.
    fn newc_with(magic: &str, members: &[M<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, e) in members.iter().enumerate() {
            let ino = if e.ino == 0 { 721 + i as u32 } else { e.ino };
            push_member(&mut out, magic, ino, e.mode, e.nlink, e.name, e.data);
        }
        push_member(&mut out, magic, 0, 0, 1, TRAILER, &[]);
        out
    }

    fn newc(members: &[M<'_>]) -> Vec<u8> {
        newc_with("070701", members)
    }

    const HELLO: &[u8] = b"\x7fELF pretend this is a program";

    fn sample() -> Vec<u8> {
        newc(&[
            m(".", S_IFDIR | 0o755, b""),
            m("./init", S_IFREG | 0o755, HELLO),
            m("bin", S_IFDIR | 0o755, b""),
            m("bin/sh", 0o120_777, b"/init"),
            m("/bin/true", S_IFREG | 0o755, b""),
            m("etc/motd", S_IFREG | 0o644, b"abc"),
        ])
    }

    fn within(outer: &[u8], inner: &[u8]) -> bool {
        let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
        i >= o && i + inner.len() <= o + outer.len()
    }

    #[test]
    fn parses_files_and_directories() {
        let img = sample();
        let fs = Initramfs::parse(&img).unwrap();
        let names: Vec<_> = fs.iter().map(|e| e.name).collect();
        assert_eq!(names, ["", "init", "bin", "bin/true", "etc/motd"]);
        let init = fs.find("/init").unwrap();
        assert_eq!(init.data, HELLO);
        assert!(init.is_file() && !init.is_dir());
        assert_eq!(init.permissions(), 0o755);
        assert!(within(&img, init.data), "data must borrow the image");
        assert_eq!(fs.find("init"), Some(init));
        assert_eq!(fs.find("./init"), Some(init));
        assert_eq!(fs.find("//init"), Some(init));
        assert!(fs.find("/bin/").unwrap().is_dir());
        assert_eq!(fs.find("etc/motd").unwrap().data, b"abc");
        assert_eq!(fs.find("bin/true").unwrap().data, b"");
        assert_eq!(fs.find("bin/sh"), None, "symlinks are skipped");
        assert_eq!(fs.find("nope"), None);
        assert!(fs.find("/").unwrap().is_dir());
    }

    #[test]
    fn empty_archive_and_empty_initramfs() {
        let img = newc(&[]);
        assert_eq!(Initramfs::parse(&img).unwrap().iter().count(), 0);
        assert_eq!(Initramfs::empty().iter().count(), 0);
        assert_eq!(
            Initramfs::parse(&[]).unwrap_err(),
            CpioError::MissingTrailer
        );
        assert_eq!(
            Initramfs::parse(&[0; 64]).unwrap_err(),
            CpioError::MissingTrailer
        );
    }

    #[test]
    fn padding_and_concatenated_archives() {
        let mut img = newc(&[m("a", S_IFREG | 0o644, b"first"), m("x", S_IFREG, b"1")]);
        img.resize(512, 0); // GNU cpio pads to 512-byte blocks
        img.extend(newc(&[
            m("b", S_IFREG | 0o644, b"second"),
            m("x", S_IFREG, b"2"),
        ]));
        img.extend_from_slice(&[0; 100]);
        let fs = Initramfs::parse(&img).unwrap();
        assert_eq!(fs.find("a").unwrap().data, b"first");
        assert_eq!(fs.find("b").unwrap().data, b"second");
        assert_eq!(fs.find("x").unwrap().data, b"2", "the last copy wins");
        // A second archive whose start is not 4-aligned still parses: padding is per archive.
        let mut odd = newc(&[m("a", S_IFREG, b"q")]);
        odd.push(0);
        odd.extend(newc(&[m("bb", S_IFREG, b"xyz")]));
        assert_eq!(
            Initramfs::parse(&odd).unwrap().find("bb").unwrap().data,
            b"xyz"
        );
        // Without trailing padding after the last trailer.
        let mut img = newc(&[m("a", S_IFREG, b"q")]);
        img.truncate(img.len() - 3); // the trailer is 110 + 11 bytes, padded to 124
        assert_eq!(Initramfs::parse(&img).unwrap().iter().count(), 1);
    }

    #[test]
    fn crc_variant_is_checked() {
        let mut img = newc_with("070702", &[m("a", S_IFREG, b"hello")]);
        assert_eq!(
            Initramfs::parse(&img).unwrap().find("a").unwrap().data,
            b"hello"
        );
        let at = img.windows(5).position(|w| w == b"hello").unwrap();
        img[at] = b'j';
        assert_eq!(
            Initramfs::parse(&img).unwrap_err(),
            CpioError::BadChecksum { offset: 0 }
        );
    }

    #[test]
    fn hard_links_share_data() {
        let img = newc(&[
            M {
                name: "a",
                mode: S_IFREG | 0o755,
                data: b"",
                ino: 9,
                nlink: 2,
            },
            M {
                name: "b",
                mode: S_IFREG | 0o755,
                data: b"shared",
                ino: 9,
                nlink: 2,
            },
        ]);
        let fs = Initramfs::parse(&img).unwrap();
        assert_eq!(fs.find("a").unwrap().data, b"shared");
        assert_eq!(fs.find("b").unwrap().data, b"shared");
    }

    #[test]
    fn errors() {
        let good = sample();
        let mut bad = good.clone();
        bad[0] = b'1';
        assert_eq!(
            Initramfs::parse(&bad).unwrap_err(),
            CpioError::BadMagic { offset: 0 }
        );
        let mut bad = good.clone();
        bad[6 + 8 + 3] = b'g'; // mode
        assert_eq!(
            Initramfs::parse(&bad).unwrap_err(),
            CpioError::BadHex {
                offset: 0,
                field: "mode"
            }
        );
        assert_eq!(
            Initramfs::parse(&good[..50]).unwrap_err(),
            CpioError::TruncatedHeader { offset: 0 }
        );
        assert_eq!(
            Initramfs::parse(&good[..111]).unwrap_err(),
            CpioError::TruncatedName { offset: 0 }
        );
        // "./init" member: header at 112 (110 + "." NUL -> 112), name "./init\0" -> data at 232.
        let init_at = 112;
        assert_eq!(
            &good[init_at + HEADER_LEN..init_at + HEADER_LEN + 6],
            b"./init"
        );
        assert_eq!(
            Initramfs::parse(&good[..init_at + 124]).unwrap_err(),
            CpioError::TruncatedData { offset: init_at }
        );
        let end = good.len() - 124; // the trailer member is 124 bytes
        assert_eq!(
            Initramfs::parse(&good[..end]).unwrap_err(),
            CpioError::MissingTrailer
        );
        let mut bad = good.clone();
        bad[init_at + HEADER_LEN + 6] = b'x'; // clobber the name's NUL
        assert_eq!(
            Initramfs::parse(&bad).unwrap_err(),
            CpioError::BadName { offset: init_at }
        );
        let mut bad = good.clone();
        bad[init_at + HEADER_LEN + 2] = 0xff; // not UTF-8
        assert_eq!(
            Initramfs::parse(&bad).unwrap_err(),
            CpioError::BadName { offset: init_at }
        );
        let mut bad = good.clone();
        bad[6 + 11 * 8..6 + 12 * 8].copy_from_slice(b"00000000"); // namesize 0
        assert_eq!(
            Initramfs::parse(&bad).unwrap_err(),
            CpioError::BadName { offset: 0 }
        );
        let mut bad = good.clone();
        bad[init_at + 6 + 6 * 8..init_at + 6 + 7 * 8].copy_from_slice(b"FFFFFFFF"); // filesize
        assert_eq!(
            Initramfs::parse(&bad).unwrap_err(),
            CpioError::TruncatedData { offset: init_at }
        );
        let gz = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0];
        assert_eq!(
            Initramfs::parse(&gz).unwrap_err(),
            CpioError::Compressed { format: "gzip" }
        );
        let msg = alloc::format!(
            "{}",
            CpioError::BadHex {
                offset: 0x70,
                field: "filesize"
            }
        );
        assert_eq!(
            msg,
            "cpio: header at offset 0x70 has a non-hex digit in its filesize field"
        );
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        // The offset arithmetic is checked: a walker positioned near usize::MAX must not wrap.
        assert_eq!(align4(usize::MAX - 1, 0, usize::MAX), usize::MAX);
        assert_eq!(align4(5, 1, 100), 5);
        assert_eq!(align4(6, 1, 100), 9);
        assert_eq!(align4(6, 1, 7), 7);
    }

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize("./init"), "init");
        assert_eq!(normalize("/init"), "init");
        assert_eq!(normalize(".//./bin/sh"), "bin/sh");
        assert_eq!(normalize("."), "");
        assert_eq!(normalize("./"), "");
        assert_eq!(normalize("/"), "");
        assert_eq!(normalize("bin/"), "bin");
        assert_eq!(normalize(".hidden"), ".hidden");
        assert_eq!(normalize("../x"), "../x");
    }

    /// The archive `scripts/mkinitrd` builds, when present (e.g. `scripts/mkinitrd build/test.cpio
    /// build/user/c/hello`); otherwise an archive written here stands in for it.
    #[test]
    fn reads_built_archive() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/build/test.cpio");
        let img = std::fs::read(path).unwrap_or_else(|_| {
            newc(&[
                m("hello", S_IFREG | 0o755, HELLO),
                m("init", S_IFREG | 0o755, b"#!"),
            ])
        });
        let fs = Initramfs::parse(&img).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(fs.iter().count() > 0);
        for e in &fs {
            assert!(within(&img, e.data));
            assert_eq!(fs.find(e.name).map(|f| f.name), Some(e.name));
        }
    }

    fn arb_members() -> impl Strategy<Value = Vec<(String, bool, Vec<u8>)>> {
        proptest::collection::vec(
            (
                "[a-z0-9_.]{1,12}(/[a-z0-9_]{1,8}){0,2}",
                any::<bool>(),
                proptest::collection::vec(any::<u8>(), 0..40),
            ),
            0..6,
        )
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(fs) = Initramfs::parse(&bytes) {
                for e in fs.iter() {
                    prop_assert!(within(&bytes, e.data));
                }
            }
        }

        #[test]
        fn random_headers_never_panic(
            fields in proptest::collection::vec("[0-9A-Fa-fg ]{8}", 13),
            tail in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut img = b"070701".to_vec();
            for f in &fields {
                img.extend_from_slice(f.as_bytes());
            }
            img.extend(tail);
            let _ = Initramfs::parse(&img).map(|fs| fs.iter().count());
        }

        #[test]
        fn mutations_never_panic(
            at in any::<proptest::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<proptest::sample::Index>(),
            hexpos in 0usize..13,
            hexval in any::<u32>(),
        ) {
            let good = sample();
            let mut a = good.clone();
            a[at.index(good.len())] = byte;
            let mut b = good.clone();
            b.truncate(cut.index(good.len()));
            let mut c = good.clone();
            let h = at.index(good.len() / 4) * 4;
            let f = h + 6 + 8 * hexpos;
            if f + 8 <= c.len() {
                c[f..f + 8].copy_from_slice(alloc::format!("{hexval:08x}").as_bytes());
            }
            for img in [a, b, c] {
                if let Ok(fs) = Initramfs::parse(&img) {
                    for e in fs.iter() {
                        prop_assert!(within(&img, e.data));
                        let _ = fs.find(e.name);
                    }
                }
            }
        }

        #[test]
        fn round_trip(members in arb_members()) {
            let ms: Vec<M<'_>> = members
                .iter()
                .map(|(n, dir, d)| {
                    if *dir {
                        m(n, S_IFDIR | 0o755, b"")
                    } else {
                        m(n, S_IFREG | 0o644, d)
                    }
                })
                .collect();
            let img = newc(&ms);
            let fs = Initramfs::parse(&img).unwrap();
            let got: Vec<_> = fs.iter().collect();
            prop_assert_eq!(got.len(), ms.len());
            for (g, w) in got.iter().zip(&ms) {
                prop_assert_eq!(g.name, normalize(w.name));
                prop_assert_eq!(g.mode, w.mode);
                prop_assert_eq!(g.data, w.data);
            }
        }
    }
}

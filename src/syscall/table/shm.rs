//! System V shared memory: shmget, shmat, shmdt, shmctl (`ipc/shm.c`). A segment is a shmem
//! object (the same kind of in-memory inode that backs `MAP_SHARED | MAP_ANONYMOUS`) named by
//! an id, and optionally a key, in one system-wide table. Attaching maps it shared; its attach
//! count is the number of mappings of it, which fork, munmap, exec and exit keep exact without
//! bookkeeping of their own (each mapping holds a reference to the object). `IPC_RMID` takes the
//! key away at once and the segment goes with its last mapping; the table then keeps only a weak
//! reference, so the memory comes back the moment the last mapping does.
use super::*;
use crate::fs::inode::Inode;
use crate::mm::object::Backing;
use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};

const IPC_PRIVATE: i32 = 0;
const IPC_CREAT: u32 = 0o1000;
const IPC_EXCL: u32 = 0o2000;
const IPC_RMID: u32 = 0;
const IPC_SET: u32 = 1;
const IPC_STAT: u32 = 2;
const IPC_INFO: u32 = 3;
const SHM_INFO: u32 = 14;
const IPC_64: u32 = 0x100;
const SHM_LOCK: u32 = 11;
const SHM_UNLOCK: u32 = 12;
const SHM_STAT: u32 = 13;
const SHM_STAT_ANY: u32 = 15;
const SHM_RDONLY: u32 = 0o10000;
const SHM_RND: u32 = 0o20000;
const SHM_REMAP: u32 = 0o40000;
const SHM_EXEC: u32 = 0o100000;
/// Mode bits Linux reports: the segment is marked for removal, or locked.
const SHM_DEST: u32 = 0o1000;
const SHM_LOCKED: u32 = 0o2000;
/// arm64's `SHMLBA` for 64-bit tasks: a page (its four-page `COMPAT_SHMLBA` is for 32-bit ones).
const SHMLBA: usize = crate::mm::addr::PAGE_SIZE;
/// `SHMMNI` and `SHMMAX` (Linux's defaults).
const SHMMNI: usize = 4096;
const SHMMAX: usize = usize::MAX - (1 << 24);
/// `ipc_buildid`: an id is its slot plus a sequence number times this.
const SEQ_MULTIPLIER: i32 = 32768;
/// `sizeof(struct shmid64_ds)` on arm64.
const SHMID_DS_SIZE: usize = 112;

/// The memory of a segment: held while the key names it, only weakly once it is removed.
enum Memory {
    Live(Arc<Inode>),
    Removed(Weak<Inode>),
}

struct Segment {
    key: i32,
    seq: u16,
    memory: Memory,
    size: usize,
    uid: u32,
    gid: u32,
    cuid: u32,
    cgid: u32,
    /// The permission bits, plus `SHM_LOCKED`.
    mode: u32,
    cpid: i32,
    lpid: i32,
    atime: i64,
    dtime: i64,
    ctime: i64,
}

impl Segment {
    fn inode(&self) -> Option<Arc<Inode>> {
        match &self.memory {
            Memory::Live(i) => Some(i.clone()),
            Memory::Removed(w) => w.upgrade(),
        }
    }

    /// Mappings of the segment (`shm_nattch`): the object's references but the table's own.
    fn nattch(&self) -> usize {
        match &self.memory {
            Memory::Live(i) => Arc::strong_count(i) - 1,
            Memory::Removed(w) => w.strong_count(),
        }
    }

    /// `ipcperms`: the owner's, the group's or the others' bits, root exempt.
    fn permits(&self, p: &Process, want: u32) -> bool {
        let c = &p.creds;
        if c.euid == 0 {
            return true;
        }
        let bits = if c.euid == self.uid || c.euid == self.cuid {
            self.mode >> 6
        } else if c.egid == self.gid || c.egid == self.cgid {
            self.mode >> 3
        } else {
            self.mode
        };
        want & !bits & 7 == 0
    }

    /// The owner or creator, or root (`ipcctl_obtain_check`).
    fn owned_by(&self, p: &Process) -> bool {
        p.creds.euid == 0 || p.creds.euid == self.uid || p.creds.euid == self.cuid
    }
}

/// The system's segments by slot (the id's low part).
struct ShmIds {
    slots: BTreeMap<usize, Segment>,
    seq: u16,
}

static SHM: crate::sync::Mutex<ShmIds> = crate::sync::Mutex::new(ShmIds {
    slots: BTreeMap::new(),
    seq: 0,
});

impl ShmIds {
    /// Forgets removed segments whose last mapping went.
    fn reap(&mut self) {
        self.slots
            .retain(|_, s| !matches!(&s.memory, Memory::Removed(w) if w.strong_count() == 0));
    }

    fn get(&mut self, id: i32) -> Result<&mut Segment, Errno> {
        if id < 0 {
            return Err(errno::EINVAL);
        }
        let slot = (id % SEQ_MULTIPLIER) as usize;
        match self.slots.get_mut(&slot) {
            Some(s) if s.seq as i32 == id / SEQ_MULTIPLIER => Ok(s),
            _ => Err(errno::EINVAL),
        }
    }

    fn id_of(slot: usize, seg: &Segment) -> i32 {
        seg.seq as i32 * SEQ_MULTIPLIER + slot as i32
    }
}

fn now() -> i64 {
    (timer::realtime_ns() / 1_000_000_000) as i64
}

/// shmget(2): the segment of `key` (a new one for `IPC_PRIVATE` or with `IPC_CREAT` when none
/// has the key). `EINVAL` for a size out of range or above an existing segment's, `EEXIST` with
/// `IPC_EXCL`, `ENOENT` without `IPC_CREAT`, `EACCES` without the permission `flags` asks for,
/// `ENOSPC` when every id is taken.
pub(super) fn sys_shmget(p: &mut Process, key: i32, size: usize, flags: u32) -> SysResult {
    let mut ids = SHM.lock();
    ids.reap();
    if key != IPC_PRIVATE {
        let found = ids
            .slots
            .iter()
            .find(|(_, s)| s.key == key && matches!(s.memory, Memory::Live(_)))
            .map(|(&slot, _)| slot);
        if let Some(slot) = found {
            let s = &ids.slots[&slot];
            if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 {
                return Err(errno::EEXIST);
            }
            if !s.permits(p, (flags >> 6) & 7 | (flags >> 3) & 7 | flags & 7) {
                return Err(errno::EACCES);
            }
            if s.size < size {
                return Err(errno::EINVAL);
            }
            return Ok(ShmIds::id_of(slot, s) as usize);
        }
        if flags & IPC_CREAT == 0 {
            return Err(errno::ENOENT);
        }
    }
    if !(1..=SHMMAX).contains(&size) {
        return Err(errno::EINVAL);
    }
    let slot = (0..SHMMNI)
        .find(|i| !ids.slots.contains_key(i))
        .ok_or(errno::ENOSPC)?;
    let inode = crate::fs::shm_object(size).ok_or(errno::ENOMEM)?;
    ids.seq = ids.seq.wrapping_add(1) % (i32::MAX / SEQ_MULTIPLIER) as u16;
    let t = now();
    let seg = Segment {
        key,
        seq: ids.seq,
        memory: Memory::Live(inode),
        size,
        uid: p.creds.euid,
        gid: p.creds.egid,
        cuid: p.creds.euid,
        cgid: p.creds.egid,
        mode: flags & 0o777,
        cpid: p.tgid,
        lpid: 0,
        atime: 0,
        dtime: 0,
        ctime: t,
    };
    let id = ShmIds::id_of(slot, &seg);
    ids.slots.insert(slot, seg);
    Ok(id as usize)
}

/// shmat(2): maps the segment shared, where asked (a multiple of `SHMLBA`, or rounded down to
/// one with `SHM_RND`; over existing mappings only with `SHM_REMAP`) or where the kernel picks;
/// read-only with `SHM_RDONLY`. Returns the address.
pub(super) fn sys_shmat(p: &mut Process, id: i32, addr: usize, flags: u32) -> SysResult {
    use crate::mm::vma::{MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_SHARED};
    let mut addr = addr;
    if addr != 0 && !addr.is_multiple_of(SHMLBA) {
        if flags & SHM_RND == 0 {
            return Err(errno::EINVAL);
        }
        addr &= !(SHMLBA - 1);
    }
    if addr == 0 && flags & SHM_REMAP != 0 {
        return Err(errno::EINVAL);
    }
    let (inode, size, name) = {
        let mut ids = SHM.lock();
        let seg = ids.get(id)?;
        let want =
            if flags & SHM_RDONLY != 0 { 4 } else { 6 } | if flags & SHM_EXEC != 0 { 1 } else { 0 };
        if !seg.permits(p, want) {
            return Err(errno::EACCES);
        }
        let inode = seg.inode().ok_or(errno::EIDRM)?;
        let name: Arc<str> = Arc::from(alloc::format!("/SYSV{:08x} (deleted)", seg.key).as_str());
        (inode, seg.size, name)
    };
    let mut prot = crate::mm::vma::PROT_READ;
    if flags & SHM_RDONLY == 0 {
        prot |= crate::mm::vma::PROT_WRITE;
    }
    if flags & SHM_EXEC != 0 {
        prot |= crate::mm::vma::PROT_EXEC;
    }
    let mut map_flags = MAP_SHARED;
    if addr != 0 {
        map_flags |= if flags & SHM_REMAP != 0 {
            MAP_FIXED
        } else {
            MAP_FIXED_NOREPLACE
        };
    }
    let object = crate::mm::mmap::MmapObject {
        backing: Backing(inode),
        name,
        pgoff: 0,
        writable: true,
    };
    let r = crate::mm::mmap::do_mmap_object(&mut p.mm(), addr, size, prot, map_flags, Some(object))
        .map_err(|e| match e {
            // An attach over a mapping without SHM_REMAP is EINVAL.
            crate::mm::error::MmError::Exists => errno::EINVAL,
            e => mm_err(e),
        })?;
    let mut ids = SHM.lock();
    if let Ok(seg) = ids.get(id) {
        seg.atime = now();
        seg.lpid = p.tgid;
    }
    Ok(r.addr)
}

/// shmdt(2): unmaps the attach that starts at `addr`: every mapping of that segment within its
/// size from there (`EINVAL` if no mapping of a segment starts there).
pub(super) fn sys_shmdt(p: &mut Process, addr: usize) -> SysResult {
    if !addr.is_multiple_of(crate::mm::addr::PAGE_SIZE) {
        return Err(errno::EINVAL);
    }
    let (slot, ranges) = {
        let mm = p.mm();
        let Some(first) = mm
            .find_vma(addr)
            .filter(|v| v.start == addr && v.pgoff == 0)
        else {
            return Err(errno::EINVAL);
        };
        let Some(backing) = first.backing().cloned() else {
            return Err(errno::EINVAL);
        };
        let (slot, size) = segment_of(&backing).ok_or(errno::EINVAL)?;
        let end = addr.saturating_add(size);
        let ranges: alloc::vec::Vec<(usize, usize)> = mm
            .vmas()
            .filter(|v| v.start >= addr && v.start < end && v.backing() == Some(&backing))
            .map(|v| (v.start, v.end))
            .collect();
        (slot, ranges)
    };
    for (start, end) in ranges {
        crate::mm::mmap::do_munmap(&mut p.mm(), start, end - start).map_err(mm_err)?;
    }
    let mut ids = SHM.lock();
    if let Some(seg) = ids.slots.get_mut(&slot) {
        seg.dtime = now();
        seg.lpid = p.tgid;
    }
    ids.reap();
    Ok(0)
}

/// The slot and size of the segment whose memory `backing` is, if it is one.
fn segment_of(backing: &Backing) -> Option<(usize, usize)> {
    let ids = SHM.lock();
    ids.slots.iter().find_map(|(&slot, s)| {
        let i = s.inode()?;
        let same = core::ptr::addr_eq(Arc::as_ptr(&i), Arc::as_ptr(&backing.0));
        same.then_some((slot, s.size))
    })
}

/// shmctl(2): `IPC_STAT`/`SHM_STAT` fill a `struct shmid64_ds`; `IPC_SET` changes owner and mode
/// (owner, creator or root: `EPERM`); `IPC_RMID` removes; `SHM_LOCK`/`SHM_UNLOCK` mark the
/// segment locked (root); `IPC_INFO` gives the limits (`struct shminfo64`) and `SHM_INFO` the
/// usage (`struct shm_info`), both returning the highest slot in use. Other commands are
/// `EINVAL`.
pub(super) fn sys_shmctl(p: &mut Process, id: i32, cmd: u32, buf: usize) -> SysResult {
    let cmd = cmd & !IPC_64;
    let mut ids = SHM.lock();
    ids.reap();
    match cmd {
        IPC_STAT | SHM_STAT | SHM_STAT_ANY => {
            let (seg_id, seg) = if cmd == IPC_STAT {
                let seg = ids.get(id)?;
                (id, &*seg)
            } else {
                // SHM_STAT takes a slot and returns the id.
                let slot = usize::try_from(id).map_err(|_| errno::EINVAL)?;
                let seg = ids.slots.get(&slot).ok_or(errno::EINVAL)?;
                (ShmIds::id_of(slot, seg), seg)
            };
            if cmd != SHM_STAT_ANY && !seg.permits(p, 4) {
                return Err(errno::EACCES);
            }
            let bytes = shmid_ds(seg);
            drop(ids);
            p.copy_to_user(buf, &bytes)?;
            Ok(if cmd == IPC_STAT { 0 } else { seg_id as usize })
        }
        IPC_SET => {
            drop(ids);
            let mut raw = [0u8; SHMID_DS_SIZE];
            p.copy_from_user(buf, &mut raw)?;
            let field = |o: usize| u32::from_le_bytes(raw[o..o + 4].try_into().unwrap());
            let mut ids = SHM.lock();
            let seg = ids.get(id)?;
            if !seg.owned_by(p) {
                return Err(errno::EPERM);
            }
            seg.uid = field(4);
            seg.gid = field(8);
            seg.mode = (seg.mode & !0o777) | (field(20) & 0o777);
            seg.ctime = now();
            Ok(0)
        }
        IPC_RMID => {
            let seg = ids.get(id)?;
            if !seg.owned_by(p) {
                return Err(errno::EPERM);
            }
            // The key is free at once; the memory goes with the last mapping.
            if let Memory::Live(i) = &seg.memory {
                seg.memory = Memory::Removed(Arc::downgrade(i));
            }
            seg.key = IPC_PRIVATE;
            seg.ctime = now();
            ids.reap();
            Ok(0)
        }
        IPC_INFO => {
            // shmmax, shmmin, shmmni, shmseg, shmall, then four unused longs.
            let mut b = [0u8; 72];
            for (i, v) in [SHMMAX, 1, SHMMNI, SHMMNI, SHMMAX].into_iter().enumerate() {
                b[8 * i..8 * i + 8].copy_from_slice(&(v as u64).to_le_bytes());
            }
            let max = ids.slots.keys().next_back().copied().unwrap_or(0);
            drop(ids);
            p.copy_to_user(buf, &b)?;
            Ok(max)
        }
        SHM_INFO => {
            // used_ids (an int, padded), then shm_tot and shm_rss in pages, shm_swp,
            // swap_attempts, swap_successes.
            let used = ids.slots.len() as u32;
            let tot: usize = ids.slots.values().map(|s| s.size.div_ceil(SHMLBA)).sum();
            let rss: usize = ids
                .slots
                .values()
                .filter_map(Segment::inode)
                .map(|i| match &i.lock().data {
                    crate::fs::inode::Data::File(f) => f.pages(),
                    _ => 0,
                })
                .sum();
            let max = ids.slots.keys().next_back().copied().unwrap_or(0);
            drop(ids);
            let mut b = [0u8; 48];
            b[..4].copy_from_slice(&used.to_le_bytes());
            b[8..16].copy_from_slice(&(tot as u64).to_le_bytes());
            b[16..24].copy_from_slice(&(rss as u64).to_le_bytes());
            p.copy_to_user(buf, &b)?;
            Ok(max)
        }
        SHM_LOCK | SHM_UNLOCK => {
            let seg = ids.get(id)?;
            if p.creds.euid != 0 {
                return Err(errno::EPERM);
            }
            if cmd == SHM_LOCK {
                seg.mode |= SHM_LOCKED;
            } else {
                seg.mode &= !SHM_LOCKED;
            }
            Ok(0)
        }
        _ => Err(errno::EINVAL),
    }
}

/// `/proc/sysvipc/shm` (`sysvipc_shm_proc_show`): a header, then a line per segment, sizes and
/// resident memory in bytes.
pub(super) fn proc_show(out: &mut alloc::string::String) -> core::fmt::Result {
    use core::fmt::Write;
    out.write_str(
        "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n",
    )?;
    let mut ids = SHM.lock();
    ids.reap();
    for (&slot, s) in &ids.slots {
        let removed = matches!(s.memory, Memory::Removed(_));
        let rss = s.inode().map_or(0, |i| match &i.lock().data {
            crate::fs::inode::Data::File(f) => f.pages() * SHMLBA,
            _ => 0,
        });
        writeln!(
            out,
            "{:10} {:10}  {:4o} {:21} {:5} {:5}  {:5} {:5} {:5} {:5} {:5} {:10} {:10} {:10} {:21} {:21}",
            s.key,
            ShmIds::id_of(slot, s),
            s.mode | if removed { SHM_DEST } else { 0 },
            s.size,
            s.cpid,
            s.lpid,
            s.nattch(),
            s.uid,
            s.gid,
            s.cuid,
            s.cgid,
            s.atime,
            s.dtime,
            s.ctime,
            rss,
            0
        )?;
    }
    Ok(())
}

/// arm64's `struct shmid64_ds`: `ipc64_perm` (key, uid, gid, cuid, cgid, mode, seq), then the
/// size, the three times, the creator's and last operator's pids and the attach count.
fn shmid_ds(s: &Segment) -> [u8; SHMID_DS_SIZE] {
    let mut b = [0u8; SHMID_DS_SIZE];
    let mut put = |o: usize, v: &[u8]| b[o..o + v.len()].copy_from_slice(v);
    let removed = matches!(s.memory, Memory::Removed(_));
    let mode = s.mode | if removed { SHM_DEST } else { 0 };
    put(0, &s.key.to_le_bytes());
    put(4, &s.uid.to_le_bytes());
    put(8, &s.gid.to_le_bytes());
    put(12, &s.cuid.to_le_bytes());
    put(16, &s.cgid.to_le_bytes());
    put(20, &mode.to_le_bytes());
    put(24, &s.seq.to_le_bytes());
    put(48, &(s.size as u64).to_le_bytes());
    put(56, &s.atime.to_le_bytes());
    put(64, &s.dtime.to_le_bytes());
    put(72, &s.ctime.to_le_bytes());
    put(80, &s.cpid.to_le_bytes());
    put(84, &s.lpid.to_le_bytes());
    put(88, &(s.nattch() as u64).to_le_bytes());
    b
}

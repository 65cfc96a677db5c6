//! Linux error numbers, as `include/uapi/asm-generic/errno-base.h` and `errno.h` define them (arm64 uses
//! the generic numbering), plus the kernel-internal restart codes of `include/linux/errno.h`.
//!
//! A syscall that fails returns `-errno` in `x0`; libc turns values in `-4095..=-1` into `errno`.
//! [`Errno`] keeps the number typed until that last step ([`Errno::as_ret`]) so a positive byte count
//! can never be confused with an error, and carries the symbolic name so logs read like `strace`.
use core::fmt;

/// A Linux error number (positive, as in `errno.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Errno(pub i32);

/// Declares each error number once and derives the name and message tables from the same list, so
/// they cannot drift apart.
macro_rules! errnos {
    ($($name:ident = $nr:literal, $msg:literal;)*) => {
        $(
            #[doc = $msg]
            pub const $name: Errno = Errno($nr);
        )*

        impl Errno {
            /// The symbolic name (`"EFAULT"`), or `None` for a number Linux does not define.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($nr => Some(stringify!($name)),)*
                    ERESTARTSYS_NR => Some("ERESTARTSYS"),
                    ERESTARTNOINTR_NR => Some("ERESTARTNOINTR"),
                    ERESTARTNOHAND_NR => Some("ERESTARTNOHAND"),
                    ERESTART_RESTARTBLOCK_NR => Some("ERESTART_RESTARTBLOCK"),
                    EWOULDBLOCK_RESTART_NR => Some("EWOULDBLOCK_RESTART"),
                    EFBIG_XFSZ_NR => Some("EFBIG_XFSZ"),
                    _ => None,
                }
            }

            /// The message glibc's `strerror` prints (the comment in the uapi header).
            pub const fn message(self) -> Option<&'static str> {
                match self.0 {
                    $($nr => Some($msg),)*
                    _ => None,
                }
            }
        }

        /// Every user-visible error number, ascending (used by tests and by anything that wants to
        /// enumerate them).
        pub const ALL: &[Errno] = &[$($name),*];
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "I/O error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Argument list too long";
    ENOEXEC = 8, "Exec format error";
    EBADF = 9, "Bad file number";
    ECHILD = 10, "No child processes";
    EAGAIN = 11, "Try again";
    ENOMEM = 12, "Out of memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    ENOTBLK = 15, "Block device required";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    EXDEV = 18, "Cross-device link";
    ENODEV = 19, "No such device";
    ENOTDIR = 20, "Not a directory";
    EISDIR = 21, "Is a directory";
    EINVAL = 22, "Invalid argument";
    ENFILE = 23, "File table overflow";
    EMFILE = 24, "Too many open files";
    ENOTTY = 25, "Not a typewriter";
    ETXTBSY = 26, "Text file busy";
    EFBIG = 27, "File too large";
    ENOSPC = 28, "No space left on device";
    ESPIPE = 29, "Illegal seek";
    EROFS = 30, "Read-only file system";
    EMLINK = 31, "Too many links";
    EPIPE = 32, "Broken pipe";
    EDOM = 33, "Math argument out of domain of func";
    ERANGE = 34, "Math result not representable";
    EDEADLK = 35, "Resource deadlock would occur";
    ENAMETOOLONG = 36, "File name too long";
    ENOLCK = 37, "No record locks available";
    ENOSYS = 38, "Invalid system call number";
    ENOTEMPTY = 39, "Directory not empty";
    ELOOP = 40, "Too many symbolic links encountered";
    ENOMSG = 42, "No message of desired type";
    EIDRM = 43, "Identifier removed";
    ECHRNG = 44, "Channel number out of range";
    EL2NSYNC = 45, "Level 2 not synchronized";
    EL3HLT = 46, "Level 3 halted";
    EL3RST = 47, "Level 3 reset";
    ELNRNG = 48, "Link number out of range";
    EUNATCH = 49, "Protocol driver not attached";
    ENOCSI = 50, "No CSI structure available";
    EL2HLT = 51, "Level 2 halted";
    EBADE = 52, "Invalid exchange";
    EBADR = 53, "Invalid request descriptor";
    EXFULL = 54, "Exchange full";
    ENOANO = 55, "No anode";
    EBADRQC = 56, "Invalid request code";
    EBADSLT = 57, "Invalid slot";
    EBFONT = 59, "Bad font file format";
    ENOSTR = 60, "Device not a stream";
    ENODATA = 61, "No data available";
    ETIME = 62, "Timer expired";
    ENOSR = 63, "Out of streams resources";
    ENONET = 64, "Machine is not on the network";
    ENOPKG = 65, "Package not installed";
    EREMOTE = 66, "Object is remote";
    ENOLINK = 67, "Link has been severed";
    EADV = 68, "Advertise error";
    ESRMNT = 69, "Srmount error";
    ECOMM = 70, "Communication error on send";
    EPROTO = 71, "Protocol error";
    EMULTIHOP = 72, "Multihop attempted";
    EDOTDOT = 73, "RFS specific error";
    EBADMSG = 74, "Not a data message";
    EOVERFLOW = 75, "Value too large for defined data type";
    ENOTUNIQ = 76, "Name not unique on network";
    EBADFD = 77, "File descriptor in bad state";
    EREMCHG = 78, "Remote address changed";
    ELIBACC = 79, "Can not access a needed shared library";
    ELIBBAD = 80, "Accessing a corrupted shared library";
    ELIBSCN = 81, ".lib section in a.out corrupted";
    ELIBMAX = 82, "Attempting to link in too many shared libraries";
    ELIBEXEC = 83, "Cannot exec a shared library directly";
    EILSEQ = 84, "Illegal byte sequence";
    ERESTART = 85, "Interrupted system call should be restarted";
    ESTRPIPE = 86, "Streams pipe error";
    EUSERS = 87, "Too many users";
    ENOTSOCK = 88, "Socket operation on non-socket";
    EDESTADDRREQ = 89, "Destination address required";
    EMSGSIZE = 90, "Message too long";
    EPROTOTYPE = 91, "Protocol wrong type for socket";
    ENOPROTOOPT = 92, "Protocol not available";
    EPROTONOSUPPORT = 93, "Protocol not supported";
    ESOCKTNOSUPPORT = 94, "Socket type not supported";
    EOPNOTSUPP = 95, "Operation not supported on transport endpoint";
    EPFNOSUPPORT = 96, "Protocol family not supported";
    EAFNOSUPPORT = 97, "Address family not supported by protocol";
    EADDRINUSE = 98, "Address already in use";
    EADDRNOTAVAIL = 99, "Cannot assign requested address";
    ENETDOWN = 100, "Network is down";
    ENETUNREACH = 101, "Network is unreachable";
    ENETRESET = 102, "Network dropped connection because of reset";
    ECONNABORTED = 103, "Software caused connection abort";
    ECONNRESET = 104, "Connection reset by peer";
    ENOBUFS = 105, "No buffer space available";
    EISCONN = 106, "Transport endpoint is already connected";
    ENOTCONN = 107, "Transport endpoint is not connected";
    ESHUTDOWN = 108, "Cannot send after transport endpoint shutdown";
    ETOOMANYREFS = 109, "Too many references: cannot splice";
    ETIMEDOUT = 110, "Connection timed out";
    ECONNREFUSED = 111, "Connection refused";
    EHOSTDOWN = 112, "Host is down";
    EHOSTUNREACH = 113, "No route to host";
    EALREADY = 114, "Operation already in progress";
    EINPROGRESS = 115, "Operation now in progress";
    ESTALE = 116, "Stale file handle";
    EUCLEAN = 117, "Structure needs cleaning";
    ENOTNAM = 118, "Not a XENIX named type file";
    ENAVAIL = 119, "No XENIX semaphores available";
    EISNAM = 120, "Is a named type file";
    EREMOTEIO = 121, "Remote I/O error";
    EDQUOT = 122, "Quota exceeded";
    ENOMEDIUM = 123, "No medium found";
    EMEDIUMTYPE = 124, "Wrong medium type";
    ECANCELED = 125, "Operation Canceled";
    ENOKEY = 126, "Required key not available";
    EKEYEXPIRED = 127, "Key has expired";
    EKEYREVOKED = 128, "Key has been revoked";
    EKEYREJECTED = 129, "Key was rejected by service";
    EOWNERDEAD = 130, "Owner died";
    ENOTRECOVERABLE = 131, "State not recoverable";
    ERFKILL = 132, "Operation not possible due to RF-kill";
    EHWPOISON = 133, "Memory page has hardware error";
}

/// `EWOULDBLOCK` is `EAGAIN` on Linux (`errno.h`).
pub const EWOULDBLOCK: Errno = EAGAIN;
/// `EDEADLOCK` is `EDEADLK` on every architecture but MIPS/PowerPC/SPARC.
pub const EDEADLOCK: Errno = EDEADLK;

const ERESTARTSYS_NR: i32 = 512;
const ERESTARTNOINTR_NR: i32 = 513;
const ERESTARTNOHAND_NR: i32 = 514;
const ERESTART_RESTARTBLOCK_NR: i32 = 516;
/// Not a Linux number: a free value in the kernel-internal range (512 and up) that Linux leaves
/// unused.
const EWOULDBLOCK_RESTART_NR: i32 = 600;
/// Not a Linux number either, beside it.
const EFBIG_XFSZ_NR: i32 = 601;

/// Kernel-internal (`include/linux/errno.h`): "restart if the handler has `SA_RESTART`, else
/// `EINTR`". Never reaches user space: signal delivery rewrites it (see
/// `task::signal::syscall_restart` in the kernel).
pub const ERESTARTSYS: Errno = Errno(ERESTARTSYS_NR);
/// Kernel-internal: always restart, whether or not a handler runs.
pub const ERESTARTNOINTR: Errno = Errno(ERESTARTNOINTR_NR);
/// Kernel-internal: restart if no handler runs, `EINTR` if one does.
pub const ERESTARTNOHAND: Errno = Errno(ERESTARTNOHAND_NR);
/// Kernel-internal: restart through `restart_syscall(2)` if no handler runs, `EINTR` if one does.
pub const ERESTART_RESTARTBLOCK: Errno = Errno(ERESTART_RESTARTBLOCK_NR);

/// tidemark-internal: "this call must sleep". The portable handlers cannot sleep, so where Linux
/// would wait (a `read` of an empty pipe that still has writers, a `write` to a full pipe, a
/// `ppoll` without timeout whose pipes are not ready) they return this having changed nothing
/// at all: no byte moved, no user memory written. The kernel must then:
///
/// 1. If a signal is deliverable to the caller, treat the result exactly as [`ERESTARTSYS`]
///    (what Linux's `pipe_read`/`pipe_write` return when a signal interrupts the wait;
///    `crate::syscall::fs::interrupted_errno` gives the right code per syscall, e.g.
///    [`ERESTARTNOHAND`] for `ppoll`) and run the usual signal-delivery restart logic.
/// 2. Otherwise park the caller until `crate::fs::pipe::events()` differs from the value it
///    sampled *before* dispatching the syscall (sampling first means a change made while the
///    handler ran wakes the caller at once: no lost wake-up), or until a signal arrives; then
///    run the same syscall again from scratch with the original arguments (the arm64 way:
///    `pc -= 4`, `x0 = orig_x0`, or simply re-dispatch). A spurious wake-up is harmless: the
///    rerun returns this code again and the caller parks again.
///
/// Never reaches user space; [`Errno::is_restart`] counts it so a leak is caught by the same
/// checks.
pub const EWOULDBLOCK_RESTART: Errno = Errno(EWOULDBLOCK_RESTART_NR);

/// tidemark-internal: [`EFBIG`] because the file would pass the caller's RLIMIT_FSIZE, which also
/// raises SIGXFSZ (`generic_write_check_limits`, `inode_newsize_ok`). The portable file layer
/// returns it and the kernel turns it into `EFBIG` and the signal; an `EFBIG` for the file
/// system's own size limit raises nothing.
pub const EFBIG_XFSZ: Errno = Errno(EFBIG_XFSZ_NR);

/// Largest error number a syscall may return: libc treats `-4095..=-1` as `-errno` (`MAX_ERRNO`).
pub const MAX_ERRNO: i32 = 4095;

impl Errno {
    /// The value the syscall returns in `x0`: `-errno`.
    pub const fn as_ret(self) -> isize {
        -(self.0 as isize)
    }

    /// The inverse of [`Errno::as_ret`] for a raw `x0`: `Some` for `-4095..=-1`, as libc decides.
    pub const fn from_ret(ret: isize) -> Option<Errno> {
        if ret < 0 && ret >= -(MAX_ERRNO as isize) {
            Some(Errno(-ret as i32))
        } else {
            None
        }
    }

    /// Whether this is one of the kernel-internal restart codes, which must be rewritten before the
    /// syscall returns to user space.
    pub const fn is_restart(self) -> bool {
        matches!(
            self.0,
            ERESTARTSYS_NR
                | ERESTARTNOINTR_NR
                | ERESTARTNOHAND_NR
                | ERESTART_RESTARTBLOCK_NR
                | EWOULDBLOCK_RESTART_NR
        )
    }
}

impl fmt::Display for Errno {
    /// `EFAULT` for known numbers (the form `strace` prints), `errno 999` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "errno {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn well_known_values() {
        assert_eq!(EPERM.0, 1);
        assert_eq!(ENOENT.0, 2);
        assert_eq!(ESRCH.0, 3);
        assert_eq!(EINTR.0, 4);
        assert_eq!(EBADF.0, 9);
        assert_eq!(ECHILD.0, 10);
        assert_eq!(EAGAIN.0, 11);
        assert_eq!(ENOMEM.0, 12);
        assert_eq!(EACCES.0, 13);
        assert_eq!(EFAULT.0, 14);
        assert_eq!(EEXIST.0, 17);
        assert_eq!(EINVAL.0, 22);
        assert_eq!(ENOTTY.0, 25);
        assert_eq!(ESPIPE.0, 29);
        assert_eq!(ERANGE.0, 34);
        assert_eq!(ENAMETOOLONG.0, 36);
        assert_eq!(ENOSYS.0, 38);
        assert_eq!(EOVERFLOW.0, 75);
        assert_eq!(EWOULDBLOCK, EAGAIN);
    }

    #[test]
    fn ret_round_trip() {
        assert_eq!(EFAULT.as_ret(), -14);
        assert_eq!(Errno::from_ret(-14), Some(EFAULT));
        assert_eq!(Errno::from_ret(-4095), Some(Errno(4095)));
        assert_eq!(Errno::from_ret(-4096), None);
        assert_eq!(Errno::from_ret(0), None);
        assert_eq!(Errno::from_ret(5), None);
    }

    #[test]
    fn names_and_display() {
        assert_eq!(ENOSYS.name(), Some("ENOSYS"));
        assert_eq!(ENOSYS.message(), Some("Invalid system call number"));
        assert_eq!(format!("{}", EFAULT), "EFAULT");
        assert_eq!(format!("{}", Errno(999)), "errno 999");
        assert_eq!(ERESTARTSYS.name(), Some("ERESTARTSYS"));
        assert!(ERESTARTSYS.is_restart() && !EINTR.is_restart());
        assert!(EWOULDBLOCK_RESTART.is_restart());
        assert_eq!(EWOULDBLOCK_RESTART.name(), Some("EWOULDBLOCK_RESTART"));
        assert!(!ALL.contains(&EWOULDBLOCK_RESTART) && EWOULDBLOCK_RESTART != EWOULDBLOCK);
        // Ascending and unique, 1..=133 except the two aliases' gaps (41, 58).
        assert!(ALL.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(ALL.len(), 131);
        assert!(ALL
            .iter()
            .all(|e| e.name().is_some() && e.message().is_some()));
    }

    /// Every `#define E... <number>` in the cross toolchain's uapi headers matches ours.
    #[test]
    fn matches_uapi_headers_when_present() {
        for file in ["errno-base.h", "errno.h"] {
            let path = format!("/usr/aarch64-linux-gnu/include/asm-generic/{file}");
            let Ok(text) = std::fs::read_to_string(&path) else {
                return;
            };
            for line in text.lines() {
                let mut w = line.split_whitespace();
                if w.next() != Some("#define") {
                    continue;
                }
                let (Some(name), Some(val)) = (w.next(), w.next()) else {
                    continue;
                };
                let Ok(nr) = val.parse::<i32>() else { continue };
                assert_eq!(Errno(nr).name(), Some(name), "{path}: {line}");
            }
        }
    }
}

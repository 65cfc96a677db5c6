//! The root file system on QEMU: the initramfs unpacked into the tmpfs, files and directories
//! made, linked, renamed and removed, permissions, /dev, and Linux's errors for bad paths.
mod common;
use common::Boot;

/// `user/c/files.c`: everything a program does with files and directories, as root and as two
/// other users; every page a file took comes back when it is removed.
#[test]
fn files_and_directories() {
    let o = Boot::default().program("c-files", "").run();
    o.assert_tap("files", 62);
    o.assert_no_frame_leak();
}

/// `user/c/exec.c`: execve keeps and drops what Linux's does, `#!` scripts, execveat of a
/// descriptor, vfork and posix_spawn, and Linux's errors; twenty execs in a row leave no frame
/// behind.
#[test]
fn execve_scripts_and_vfork() {
    let o = Boot::default().program("c-exec", "").run();
    o.assert_tap("exec", 24);
    o.assert_no_frame_leak();
}

/// `user/c/shm.c`: shared anonymous memory and /dev/zero across fork, a file's shared and
/// private mappings against read(2) and write(2), msync, memfd, SIGBUS past the end of a file,
/// Linux's errors; every frame comes back.
#[test]
fn shared_and_file_backed_memory() {
    let o = Boot::default().program("c-shm", "").run();
    o.assert_tap("shm", 31);
    o.assert_no_frame_leak();
}

/// `user/c/sysvshm.c`: System V shared memory (shmget, shmat, shmdt, shmctl) across fork, with
/// Linux's errors; the memory of a removed segment comes back with its last detach.
#[test]
fn system_v_shared_memory() {
    let o = Boot::default().program("c-sysvshm", "").run();
    o.assert_tap("sysvshm", 34);
    o.assert_no_frame_leak();
}

/// `user/c/xattr.c`: extended attributes as tmpfs answers them without a security module,
/// posix_fadvise, and the affinity calls of a one-CPU scheduler.
#[test]
fn xattrs_fadvise_and_affinity() {
    let o = Boot::default().program("c-xattr", "").run();
    o.assert_tap("xattr", 18);
}

/// `user/dyn/dynamic.c`: a dynamically linked glibc program. The kernel loads glibc's loader
/// from `PT_INTERP` beside it; the loader maps libc.so.6 from the root file system, dlopen finds
/// libm.so.6, threads get TLS, and a dynamic program execs another; every frame comes back.
#[test]
fn dynamically_linked_programs_run() {
    let o = Boot::default().program("dyn-dynamic", "").run();
    o.assert_tap("dynamic", 10);
    o.assert_no_frame_leak();
}

/// `user/c/fifo.c`: named pipes: a reader and a writer wait for each other in either order,
/// `O_NONBLOCK` and `O_RDWR` never wait (a lone non-blocking writer gets `ENXIO`), a signal ends a
/// waiting open, the data goes with the last end, and fstat and /proc/self/fd name the FIFO.
#[test]
fn fifos_open_as_linux_opens_them() {
    let o = Boot::default().program("c-fifo", "").run();
    o.assert_tap("fifo", 28);
    o.assert_no_frame_leak();
}

/// `user/c/mounts.c`: mount and umount2 for tmpfs, devtmpfs and the minimal sysfs (its cpu
/// files agree with the affinity mask, its names are fixed and its attributes read-only, with
/// kernfs's errors), /proc/mounts, and the errors for an unknown type, a non-directory and an
/// unprivileged caller. On four cores too, where `cpu/online` says `0-3`.
#[test]
fn tmpfs_devtmpfs_and_sysfs_mount() {
    let o = Boot::default().program("c-mounts", "").run();
    o.assert_tap("mounts", 24);
    o.assert_no_frame_leak();
    let o = Boot {
        smp: 4,
        ..Boot::default()
    }
    .program("c-mounts", "")
    .run();
    o.assert_tap("mounts", 24);
    assert!(o.output.contains("cpu/online is 0-3"), "{}", o.output);
}

/// `user/c/select.c`: pselect6 over pipes and files with Linux's readiness classes and errors,
/// timeouts that clear the sets and write back the time left, and waits that a writer or a
/// signal ends.
#[test]
fn select_waits_as_linux_does() {
    let o = Boot::default().program("c-select", "").run();
    o.assert_tap("select", 25);
}

/// `user/c/seals.c`: memfd seals (F_ADD_SEALS, F_GET_SEALS) with their effect on truncate,
/// write, fallocate, mmap and mprotect, as Linux's shmem enforces them.
#[test]
fn memfd_seals() {
    let o = Boot::default().program("c-seals", "").run();
    o.assert_tap("seals", 25);
    o.assert_no_frame_leak();
}

//! getrandom(2).
use super::*;

/// getrandom(2).
pub(super) fn getrandom(p: &mut Process, call: &SyscallArgs, _tf: &TrapFrame) -> SysResult {
    let a = call.args;
    let (a0, a1, a2) = (a[0] as usize, a[1] as usize, a[2] as usize);
    const GRND_NONBLOCK: usize = 1;
    const GRND_RANDOM: usize = 2;
    const GRND_INSECURE: usize = 4;
    if a2 & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || a2 & (GRND_RANDOM | GRND_INSECURE) == GRND_RANDOM | GRND_INSECURE
    {
        return Err(errno::EINVAL);
    }
    // The generator is seeded before the first process runs, so no flag ever waits.
    let n = a1.min(i32::MAX as usize);
    let mut buf = [0u8; 256];
    let mut done = 0;
    while done < n {
        // Never across a page boundary, so a fault leaves exactly `done` bytes written.
        let to_page =
            crate::mm::addr::PAGE_SIZE - (a0.wrapping_add(done) % crate::mm::addr::PAGE_SIZE);
        let k = (n - done).min(buf.len()).min(to_page);
        crate::random::fill(&mut buf[..k]);
        if let Err(e) = p.copy_to_user(a0.wrapping_add(done), &buf[..k]) {
            return if done > 0 { Ok(done) } else { Err(e) };
        }
        done += k;
    }
    buf.fill(0);
    Ok(n)
}

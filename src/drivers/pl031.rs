//! Arm PrimeCell PL031 real-time clock (Arm DDI 0224): seconds since the epoch, read once at boot
//! to anchor CLOCK_REALTIME to the generic timer (QEMU starts it at the host's time).
use tock_registers::interfaces::Readable;
use tock_registers::register_structs;
use tock_registers::registers::ReadOnly;

register_structs! {
    #[allow(non_snake_case)]
    Pl031 {
        /// Data register: the current count, in seconds.
        (0x000 => DR: ReadOnly<u32>),
        (0x004 => @END),
    }
}

/// Reads the RTC's seconds.
///
/// # Safety
/// `base` must map a PL031's registers (device memory).
pub unsafe fn read_seconds(base: usize) -> u64 {
    // SAFETY: forwarded from the caller.
    let rtc = unsafe { &*(base as *const Pl031) };
    u64::from(rtc.DR.get())
}

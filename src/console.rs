//! The console: the PL011 behind a lock, `print!`/`println!`, and a writer for crash reports.
use crate::drivers::pl011::Pl011;
use core::fmt;

static CONSOLE: spin::Mutex<Option<Pl011>> = spin::Mutex::new(None);

/// Starts the UART at `base` (a mapped virtual address).
///
/// # Safety
/// `base` must map a PL011 that nothing else drives.
pub unsafe fn init(base: usize) {
    // SAFETY: forwarded from the caller.
    let uart = unsafe { Pl011::new(base) };
    uart.init();
    *CONSOLE.lock() = Some(uart);
}

/// Writes bytes, turning `\n` into `\r\n` as a terminal expects.
pub fn write_bytes(bytes: &[u8]) {
    if let Some(uart) = CONSOLE.lock().as_ref() {
        for &b in bytes {
            if b == b'\n' {
                uart.put_byte(b'\r');
            }
            uart.put_byte(b);
        }
    }
}

pub fn try_read_byte() -> Option<u8> {
    CONSOLE.lock().as_ref().and_then(|u| u.try_get_byte())
}

pub fn flush() {
    if let Some(uart) = CONSOLE.lock().as_ref() {
        uart.flush();
    }
}

/// Frees the console lock if a crash interrupted its holder; only the dying path calls this.
pub fn break_lock() {
    if CONSOLE.is_locked() {
        // SAFETY: the kernel is about to stop; the interrupted holder never resumes.
        unsafe { CONSOLE.force_unlock() };
    }
}

pub struct ConsoleWriter;

impl fmt::Write for ConsoleWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(&mut $crate::console::ConsoleWriter, format_args!($($arg)*));
    }};
}

#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => {{
        $crate::print!("{}\n", format_args!($($arg)*));
    }};
}

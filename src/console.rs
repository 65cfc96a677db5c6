//! The console: the PL011 behind a lock, `print!`/`println!`, and a writer for crash reports.
use crate::drivers::pl011::Pl011;
use core::fmt;

static CONSOLE: crate::sync::Mutex<Option<Pl011>> = crate::sync::Mutex::new(None);

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

/// Turns on the UART's receive interrupts, once the interrupt controller routes them.
pub fn enable_rx_interrupt() {
    if let Some(uart) = CONSOLE.lock().as_ref() {
        uart.enable_rx_interrupt();
    }
}

pub fn try_read_byte() -> Option<u8> {
    CONSOLE.lock().as_ref().and_then(|u| u.try_get_byte())
}

/// The console's terminal: its line discipline and job-control state.
pub static TTY: crate::sync::Mutex<crate::fs::tty::Tty> =
    crate::sync::Mutex::new(crate::fs::tty::Tty::new());

/// Moves what the UART has received into the terminal, echoing as the line discipline says,
/// and lets waiting readers run (the UART's receive interrupt calls this; so do reads and the
/// idle loop, for machines whose interrupt is not wired). Never holds the UART's and the
/// terminal's locks together.
pub fn poll_input() {
    let mut got = [0u8; 64];
    loop {
        let mut n = 0;
        if let Some(uart) = CONSOLE.lock().as_ref() {
            while n < got.len() {
                match uart.try_get_byte() {
                    Some(b) => {
                        got[n] = b;
                        n += 1;
                    }
                    None => break,
                }
            }
        }
        if n == 0 {
            return;
        }
        let mut echo = alloc::vec::Vec::new();
        {
            let mut tty = TTY.lock();
            for &b in &got[..n] {
                tty.receive(b, &mut echo);
            }
        }
        if !echo.is_empty() {
            write_bytes(&echo);
        }
        crate::fs::pipe::notify();
    }
}

/// Acts on an interrupt the GIC driver took: console input is read into the terminal. Says
/// whether it was the scheduling tick.
pub fn irq_taken(irq: crate::drivers::gic::Irq) -> bool {
    use crate::drivers::gic::Irq;
    if irq == Irq::Console {
        poll_input();
    }
    irq == Irq::Tick
}

/// A signal the terminal's input raised (`^C`, `^\\`, `^Z`), with the foreground process group
/// to send it to (none when no session controls the terminal).
pub fn take_signal() -> Option<(i32, u32)> {
    let mut tty = TTY.lock();
    let sig = tty.take_signal()?;
    (tty.fg_pgrp > 0).then_some((tty.fg_pgrp, sig))
}

/// The job-control signal a background process raised by using the terminal, with the process
/// group it goes to (`Tty::job_check`).
pub fn take_job_signal() -> Option<(i32, u32)> {
    TTY.lock().job_signal.take()
}

/// Whether a reader waits for console input: the idle loop then waits for the UART rather
/// than calling it a deadlock.
pub fn input_awaited() -> bool {
    TTY.lock().reader_waiting
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

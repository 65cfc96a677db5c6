//! Arm PL011 UART (Arm DDI 0183G): transmit polled, receive by interrupt (the FIFO is drained
//! into the terminal when it fills past its trigger level or goes quiet).
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_bitfields;
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

register_bitfields! [u32,
    DR [
        DATA OFFSET(0) NUMBITS(8) []
    ],
    FR [
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    LCR_H [
        WLEN OFFSET(5) NUMBITS(2) [EightBit = 0b11],
        FEN OFFSET(4) NUMBITS(1) []
    ],
    CR [
        RXE OFFSET(9) NUMBITS(1) [],
        TXE OFFSET(8) NUMBITS(1) [],
        UARTEN OFFSET(0) NUMBITS(1) []
    ],
    IMSC [
        /// Receive timeout: bytes wait in the FIFO and no more come.
        RTIM OFFSET(6) NUMBITS(1) [],
        /// Receive: the FIFO reached its trigger level.
        RXIM OFFSET(4) NUMBITS(1) []
    ],
    ICR [
        ALL OFFSET(0) NUMBITS(11) []
    ]
];

register_structs! {
    #[allow(non_snake_case)]
    pub RegisterBlock {
        (0x00 => DR: ReadWrite<u32, DR::Register>),
        (0x04 => _reserved0),
        (0x18 => FR: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x2c => LCR_H: ReadWrite<u32, LCR_H::Register>),
        (0x30 => CR: ReadWrite<u32, CR::Register>),
        (0x34 => _reserved2),
        (0x38 => IMSC: ReadWrite<u32, IMSC::Register>),
        (0x3c => _reserved3),
        (0x44 => ICR: WriteOnly<u32, ICR::Register>),
        (0x48 => @END),
    }
}

pub struct Pl011 {
    regs: *const RegisterBlock,
}

// SAFETY: the register block is device memory reached only through volatile accesses; the console
// lock serialises users.
unsafe impl Send for Pl011 {}

impl Pl011 {
    /// # Safety
    /// `base` must be the virtual address of a mapped PL011 register block that nothing else drives.
    pub const unsafe fn new(base: usize) -> Self {
        Self {
            regs: base as *const RegisterBlock,
        }
    }

    fn regs(&self) -> &RegisterBlock {
        // SAFETY: `new`'s contract: the block is mapped for the kernel's lifetime.
        unsafe { &*self.regs }
    }

    /// 8N1 with FIFOs. The baud rate is left as firmware set it: QEMU ignores it.
    pub fn init(&self) {
        let r = self.regs();
        r.CR.set(0);
        r.ICR.write(ICR::ALL::SET);
        r.LCR_H.write(LCR_H::WLEN::EightBit + LCR_H::FEN::SET);
        r.CR.write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }

    /// Raises the receive interrupts (the GIC must route the UART's line for them to arrive).
    pub fn enable_rx_interrupt(&self) {
        self.regs().IMSC.write(IMSC::RXIM::SET + IMSC::RTIM::SET);
    }

    pub fn put_byte(&self, b: u8) {
        let r = self.regs();
        while r.FR.is_set(FR::TXFF) {
            core::hint::spin_loop();
        }
        r.DR.write(DR::DATA.val(b as u32));
    }

    pub fn try_get_byte(&self) -> Option<u8> {
        let r = self.regs();
        if r.FR.is_set(FR::RXFE) {
            None
        } else {
            Some(r.DR.read(DR::DATA) as u8)
        }
    }

    /// Waits until the last byte has left the shift register, so nothing is lost at power-off.
    pub fn flush(&self) {
        while self.regs().FR.is_set(FR::BUSY) {
            core::hint::spin_loop();
        }
    }
}

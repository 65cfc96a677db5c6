//! VMSAv8-64 stage 1 descriptors (4 KiB granule) and the portable attribute type that maps onto them.
//!
//! One bitfield register models table, block and page descriptors alike, as the ARM ARM does
//! (D8.3 "Translation table descriptor formats"): bit 1 (`TYPE`) tells a table from a block at levels
//! 0..=2 and must be set for a page at level 3.
use tock_registers::fields::FieldValue;
use tock_registers::register_bitfields;
use tock_registers::LocalRegisterCopy;

use crate::addr::PhysAddr;

register_bitfields! [u64,
    /// A stage 1 translation table descriptor.
    pub STAGE1_DESCRIPTOR [
        /// Table descriptors only: EL1 must not execute anything below this table.
        PXNTABLE OFFSET(59) NUMBITS(1) [],
        /// Table descriptors only: EL0 must not execute anything below this table.
        UXNTABLE OFFSET(60) NUMBITS(1) [],
        /// Table descriptors only: limits on AP below this table (unused: we never restrict).
        APTABLE OFFSET(61) NUMBITS(2) [],
        /// Table descriptors only.
        NSTABLE OFFSET(63) NUMBITS(1) [],
        /// Software bit: cleared by a write through this mapping (Linux's PTE_DIRTY); reserved.
        SW_DIRTY OFFSET(55) NUMBITS(1) [],
        /// Software bit: the page table owns the frame(s) and frees them when the mapping goes away.
        SW_OWNED OFFSET(56) NUMBITS(1) [],
        /// Software bit: an owned frame this entry alone maps, taken fresh for it; no reference
        /// count to look at when it is freed.
        SW_EXCLUSIVE OFFSET(57) NUMBITS(1) [],
        /// Execute-never at EL0.
        UXN OFFSET(54) NUMBITS(1) [],
        /// Execute-never at EL1.
        PXN OFFSET(53) NUMBITS(1) [],
        /// Hint that 16 adjacent entries map a contiguous range (never set by this driver).
        CONTIGUOUS OFFSET(52) NUMBITS(1) [],
        /// Output address bits [47:12]: next-level table, block or page.
        OUTPUT_ADDR OFFSET(12) NUMBITS(36) [],
        /// Not global: the TLB entry is tagged with the current ASID.
        NG OFFSET(11) NUMBITS(1) [],
        /// Access flag: a translation with AF clear takes an Access flag fault (no hardware AF update).
        AF OFFSET(10) NUMBITS(1) [],
        SH OFFSET(8) NUMBITS(2) [
            NonShareable = 0b00,
            OuterShareable = 0b10,
            InnerShareable = 0b11
        ],
        /// AP[2:1].
        AP OFFSET(6) NUMBITS(2) [
            RW_EL1 = 0b00,
            RW_EL1_EL0 = 0b01,
            RO_EL1 = 0b10,
            RO_EL1_EL0 = 0b11
        ],
        NS OFFSET(5) NUMBITS(1) [],
        /// Index into MAIR_EL1.
        ATTRINDX OFFSET(2) NUMBITS(3) [],
        TYPE OFFSET(1) NUMBITS(1) [
            Block = 0,
            TableOrPage = 1
        ],
        VALID OFFSET(0) NUMBITS(1) []
    ]
];

type Fields = FieldValue<u64, STAGE1_DESCRIPTOR::Register>;

/// MAIR index 0: Normal, inner and outer write-back, read/write-allocate, non-transient.
pub const MAIR_IDX_NORMAL: u64 = 0;
/// MAIR index 1: Normal, inner and outer non-cacheable.
pub const MAIR_IDX_NORMAL_NC: u64 = 1;
/// MAIR index 2: Device-nGnRE (MMIO).
pub const MAIR_IDX_DEVICE_NGNRE: u64 = 2;
/// The value arch code must program into MAIR_EL1 so the indices above mean what they say.
pub const MAIR_EL1_VALUE: u64 = (0xff << (8 * MAIR_IDX_NORMAL))
    | (0x44 << (8 * MAIR_IDX_NORMAL_NC))
    | (0x04 << (8 * MAIR_IDX_DEVICE_NGNRE));

/// Memory type of a mapping, i.e. which MAIR_EL1 slot its ATTRINDX selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemType {
    Normal,
    NonCacheable,
    Device,
}

impl MemType {
    pub const fn mair_index(self) -> u64 {
        match self {
            MemType::Normal => MAIR_IDX_NORMAL,
            MemType::NonCacheable => MAIR_IDX_NORMAL_NC,
            MemType::Device => MAIR_IDX_DEVICE_NGNRE,
        }
    }
}

/// Portable description of a leaf mapping's attributes.
///
/// There is no "readable" flag: every valid VMSAv8 mapping is readable by the privilege levels AP
/// grants; PROT_NONE is expressed by not populating the page (the fault handler consults the VMA).
/// `exec` applies to the owner of the mapping: EL0 for `user` mappings (which always get PXN, so the
/// kernel can never execute user memory) and EL1 otherwise (which always get UXN).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attrs {
    pub writable: bool,
    /// Accessible from EL0. Such mappings must not be global.
    pub user: bool,
    pub exec: bool,
    pub mem: MemType,
    /// Global (nG clear): shared by all ASIDs; kernel mappings only.
    pub global: bool,
    /// AF. Mapping with AF clear makes the first access fault, for software young-tracking.
    pub accessed: bool,
    /// The page table frees the frames when the mapping is removed (anonymous memory), as opposed
    /// to borrowed frames like the linear map or MMIO. Kept in `STAGE1_DESCRIPTOR::SW_OWNED`.
    pub owned: bool,
    /// An owned frame that nothing else refers to: set where a fault or population maps a frame
    /// it has just taken, and dropped wherever another reference may appear (a fork's sharing)
    /// or the attributes are set anew. Freeing such frames skips the look for extra references
    /// (`PhysMem::free_exclusive_batch`). Kept in `STAGE1_DESCRIPTOR::SW_EXCLUSIVE`.
    pub exclusive: bool,
}

impl Attrs {
    const KERNEL: Attrs = Attrs {
        writable: false,
        user: false,
        exec: false,
        mem: MemType::Normal,
        global: true,
        accessed: true,
        owned: false,
        exclusive: false,
    };
    const USER: Attrs = Attrs {
        user: true,
        global: false,
        ..Self::KERNEL
    };

    pub const fn kernel_rw() -> Self {
        Attrs {
            writable: true,
            ..Self::KERNEL
        }
    }
    pub const fn kernel_ro() -> Self {
        Self::KERNEL
    }
    pub const fn kernel_rx() -> Self {
        Attrs {
            exec: true,
            ..Self::KERNEL
        }
    }
    /// MMIO: device memory, never executable.
    pub const fn kernel_device() -> Self {
        Attrs {
            writable: true,
            mem: MemType::Device,
            ..Self::KERNEL
        }
    }
    pub const fn user_rw() -> Self {
        Attrs {
            writable: true,
            ..Self::USER
        }
    }
    pub const fn user_ro() -> Self {
        Self::USER
    }
    pub const fn user_rx() -> Self {
        Attrs {
            exec: true,
            ..Self::USER
        }
    }
    pub const fn with_owned(self, owned: bool) -> Self {
        Attrs { owned, ..self }
    }
    pub const fn with_exclusive(self, exclusive: bool) -> Self {
        Attrs { exclusive, ..self }
    }
    /// These attributes with the software bits of leaf `d`, which a change of permissions
    /// keeps: who owns the frame, and whether anything else refers to it.
    pub fn keeping_bits_of(self, d: Descriptor) -> Self {
        self.with_owned(d.is_owned())
            .with_exclusive(d.is_exclusive())
    }
    pub const fn with_accessed(self, accessed: bool) -> Self {
        Attrs { accessed, ..self }
    }
    pub const fn with_mem(self, mem: MemType) -> Self {
        Attrs { mem, ..self }
    }
    pub const fn with_exec(self, exec: bool) -> Self {
        Attrs { exec, ..self }
    }
    pub const fn with_writable(self, writable: bool) -> Self {
        Attrs { writable, ..self }
    }

    /// Combinations the architecture allows but that are always a bug here.
    pub(super) fn is_sane(&self) -> bool {
        let user_global = self.user && self.global;
        let device_exec = self.mem == MemType::Device && self.exec;
        !(user_global || device_exec)
    }
}

/// Leaf attribute fields (everything but VALID, TYPE and the output address).
impl From<Attrs> for Fields {
    fn from(a: Attrs) -> Fields {
        use STAGE1_DESCRIPTOR::*;
        let ap = match (a.user, a.writable) {
            (false, true) => AP::RW_EL1,
            (true, true) => AP::RW_EL1_EL0,
            (false, false) => AP::RO_EL1,
            (true, false) => AP::RO_EL1_EL0,
        };
        ap + ATTRINDX.val(a.mem.mair_index())
            + SH::InnerShareable
            + AF.val(a.accessed as u64)
            + NG.val(!a.global as u64)
            + PXN.val((a.user || !a.exec) as u64)
            + UXN.val((!a.user || !a.exec) as u64)
            + SW_OWNED.val(a.owned as u64)
            + SW_EXCLUSIVE.val(a.exclusive as u64)
    }
}

const VALID_BIT: u64 = 1;
const PAGE_TYPE_BIT: u64 = 1 << 1;
/// OUTPUT_ADDR in place (bits [47:12]).
const OUTPUT_ADDR_MASK: u64 = ((1 << 36) - 1) << 12;

/// `Fields::from(attrs).value` computed with plain shifts: building a leaf through the
/// register-bitfield sums cost about 40 instructions, per page on the fault path.
#[inline]
fn attr_bits(a: Attrs) -> u64 {
    let (user, writable, exec) = (a.user as u64, a.writable as u64, a.exec as u64);
    let ap = user | (writable ^ 1) << 1;
    (ap << 6)
        | a.mem.mair_index() << 2
        | 0b11 << 8
        | (a.accessed as u64) << 10
        | (a.global as u64 ^ 1) << 11
        | ((user | (exec ^ 1)) << 53)
        | (((user ^ 1) | (exec ^ 1)) << 54)
        | (a.owned as u64) << 56
        | (a.exclusive as u64) << 57
}

/// Mask of the leaf attribute bits [`Attrs`] controls.
fn attr_mask() -> u64 {
    Fields::from(Attrs::kernel_rw()).mask()
}

/// One translation table entry.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub struct Descriptor(u64);

impl Descriptor {
    pub const INVALID: Descriptor = Descriptor(0);

    pub const fn from_raw(raw: u64) -> Self {
        Descriptor(raw)
    }
    pub const fn raw(self) -> u64 {
        self.0
    }
    fn reg(self) -> LocalRegisterCopy<u64, STAGE1_DESCRIPTOR::Register> {
        LocalRegisterCopy::new(self.0)
    }
    fn build(fields: Fields) -> Self {
        Descriptor(fields.value)
    }

    /// A table descriptor pointing at the next-level table `pa`.
    pub fn table(pa: PhysAddr) -> Self {
        use STAGE1_DESCRIPTOR::*;
        Self::build(VALID::SET + TYPE::TableOrPage + OUTPUT_ADDR.val(pa.as_usize() as u64 >> 12))
    }

    /// A leaf at `level`: a block at levels 1 and 2, a page at level 3.
    #[inline]
    pub fn leaf(level: usize, pa: PhysAddr, attrs: Attrs) -> Self {
        debug_assert!((1..=3).contains(&level));
        let ty = if level == 3 { PAGE_TYPE_BIT } else { 0 };
        Descriptor(VALID_BIT | ty | (pa.as_usize() as u64 & OUTPUT_ADDR_MASK) | attr_bits(attrs))
    }

    /// A level-3 page descriptor: `leaf(3, pa, attrs)`, the fault path's.
    #[inline]
    pub fn page(pa: PhysAddr, attrs: Attrs) -> Self {
        Self::leaf(3, pa, attrs)
    }

    pub fn is_valid(self) -> bool {
        self.reg().is_set(STAGE1_DESCRIPTOR::VALID)
    }
    /// A valid descriptor at levels 0..=2 that points to a next-level table.
    pub fn is_table(self, level: usize) -> bool {
        level < 3 && self.is_valid() && self.reg().is_set(STAGE1_DESCRIPTOR::TYPE)
    }
    /// A valid block (levels 1, 2) or page (level 3).
    pub fn is_leaf(self, level: usize) -> bool {
        self.is_valid() && (level == 3 || !self.reg().is_set(STAGE1_DESCRIPTOR::TYPE))
    }
    pub fn output_addr(self) -> PhysAddr {
        PhysAddr::new((self.reg().read(STAGE1_DESCRIPTOR::OUTPUT_ADDR) << 12) as usize)
    }
    pub fn is_owned(self) -> bool {
        self.reg().is_set(STAGE1_DESCRIPTOR::SW_OWNED)
    }
    /// See [`Attrs::exclusive`].
    pub fn is_exclusive(self) -> bool {
        self.reg().is_set(STAGE1_DESCRIPTOR::SW_EXCLUSIVE)
    }

    /// Decodes the leaf attributes; the inverse of `From<Attrs>` for every sane [`Attrs`].
    pub fn attrs(self) -> Attrs {
        use STAGE1_DESCRIPTOR::*;
        let r = self.reg();
        let ap = r.read(AP);
        let user = ap & 0b01 != 0;
        let mem = match r.read(ATTRINDX) {
            MAIR_IDX_NORMAL_NC => MemType::NonCacheable,
            MAIR_IDX_DEVICE_NGNRE => MemType::Device,
            _ => MemType::Normal,
        };
        let xn = if user { r.is_set(UXN) } else { r.is_set(PXN) };
        Attrs {
            writable: ap & 0b10 == 0,
            user,
            exec: !xn,
            mem,
            global: !r.is_set(NG),
            accessed: r.is_set(AF),
            owned: r.is_set(SW_OWNED),
            exclusive: r.is_set(SW_EXCLUSIVE),
        }
    }

    /// The same leaf with its attributes replaced (output address and type kept).
    pub fn with_attrs(self, attrs: Attrs) -> Self {
        Descriptor((self.0 & !attr_mask()) | Fields::from(attrs).value)
    }

    /// This leaf moved to `level` and `pa`: attribute and software bits kept, TYPE adjusted
    /// (block vs page). Used to split a block.
    pub fn relocated(self, level: usize, pa: PhysAddr) -> Self {
        use STAGE1_DESCRIPTOR::*;
        let ty = if level == 3 {
            TYPE::TableOrPage
        } else {
            TYPE::Block
        };
        let mut r = self.reg();
        r.modify(ty + OUTPUT_ADDR.val(pa.as_usize() as u64 >> 12));
        Descriptor(r.get())
    }

    /// This leaf with AF set.
    /// The same leaf without [`Attrs::exclusive`].
    pub fn without_exclusive(self) -> Self {
        let mut r = self.reg();
        r.modify(STAGE1_DESCRIPTOR::SW_EXCLUSIVE::CLEAR);
        Descriptor(r.get())
    }

    pub fn with_af(self) -> Self {
        let mut r = self.reg();
        r.modify(STAGE1_DESCRIPTOR::AF::SET);
        Descriptor(r.get())
    }

    /// Whether replacing valid `self` by valid `new` needs break-before-make: a different output
    /// address, block/table type, memory type, shareability, nG, NS or contiguous hint. Permission
    /// (AP, PXN, UXN), AF and software-bit changes are safe in place.
    pub fn needs_bbm(self, new: Descriptor) -> bool {
        use STAGE1_DESCRIPTOR::*;
        let mask = TYPE.mask << TYPE.shift
            | OUTPUT_ADDR.mask << OUTPUT_ADDR.shift
            | ATTRINDX.mask << ATTRINDX.shift
            | SH.mask << SH.shift
            | NG.mask << NG.shift
            | NS.mask << NS.shift
            | CONTIGUOUS.mask << CONTIGUOUS.shift;
        (self.0 ^ new.0) & mask != 0
    }
}

impl core::fmt::Debug for Descriptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Descriptor({:#018x})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mair_value() {
        assert_eq!(MAIR_EL1_VALUE, 0x0004_44ff);
    }

    #[test]
    fn attr_bits_match_the_bitfield_encoding() {
        for bits in 0..(1u32 << 10) {
            let b = |i: u32| bits & (1 << i) != 0;
            let mem = match (bits >> 7) & 3 {
                0 => MemType::Normal,
                1 => MemType::NonCacheable,
                _ => MemType::Device,
            };
            let a = Attrs {
                writable: b(0),
                user: b(1),
                exec: b(2),
                mem,
                global: b(3),
                accessed: b(4),
                owned: b(5),
                exclusive: b(9),
            };
            assert_eq!(attr_bits(a), Fields::from(a).value, "{a:?}");
            let pa = PhysAddr::new(0x1234_5678_9000);
            use STAGE1_DESCRIPTOR::*;
            for (level, ty) in [(1, TYPE::Block), (2, TYPE::Block), (3, TYPE::TableOrPage)] {
                let slow = VALID::SET + ty + OUTPUT_ADDR.val(pa.as_usize() as u64 >> 12) + a.into();
                assert_eq!(Descriptor::leaf(level, pa, a).raw(), slow.value);
            }
        }
    }

    #[test]
    fn ap_and_xn_encoding() {
        use STAGE1_DESCRIPTOR::*;
        let pa = PhysAddr::new(0x4020_0000);
        let d = Descriptor::leaf(3, pa, Attrs::user_rx());
        let r = d.reg();
        assert_eq!(r.read(AP), 0b11);
        assert!(r.is_set(PXN) && !r.is_set(UXN) && r.is_set(NG) && r.is_set(AF));
        assert!(r.is_set(TYPE) && r.is_set(VALID));
        assert_eq!(d.output_addr(), pa);
        let d = Descriptor::leaf(2, pa, Attrs::kernel_rw());
        let r = d.reg();
        assert_eq!(r.read(AP), 0b00);
        assert!(r.is_set(PXN) && r.is_set(UXN) && !r.is_set(NG) && !r.is_set(TYPE));
        assert_eq!(r.read(SH), 0b11);
        assert_eq!(
            Descriptor::leaf(3, pa, Attrs::user_rw()).reg().read(AP),
            0b01
        );
        assert_eq!(
            Descriptor::leaf(3, pa, Attrs::kernel_ro()).reg().read(AP),
            0b10
        );
        assert!(!Descriptor::leaf(3, pa, Attrs::kernel_rx())
            .reg()
            .is_set(PXN));
        assert_eq!(
            Descriptor::leaf(3, pa, Attrs::kernel_device())
                .reg()
                .read(ATTRINDX),
            2
        );
    }

    #[test]
    fn attrs_round_trip() {
        let mems = [MemType::Normal, MemType::NonCacheable, MemType::Device];
        for bits in 0..128u32 {
            for mem in mems {
                let b = |i: u32| bits & (1 << i) != 0;
                let a = Attrs {
                    writable: b(0),
                    user: b(1),
                    exec: b(2),
                    mem,
                    global: b(3),
                    accessed: b(4),
                    owned: b(5),
                    exclusive: b(6),
                };
                if !a.is_sane() {
                    continue;
                }
                for level in 1..=3 {
                    let d = Descriptor::leaf(level, PhysAddr::new(0x8000_0000), a);
                    assert_eq!(d.attrs(), a);
                    assert!(d.is_leaf(level) && !d.is_table(level));
                }
            }
        }
    }

    #[test]
    fn bbm_classification() {
        let pa = PhysAddr::new(0x4000_0000);
        let d = Descriptor::leaf(3, pa, Attrs::user_rw());
        assert!(!d.needs_bbm(d.with_attrs(Attrs::user_ro())));
        assert!(!d.needs_bbm(d.with_attrs(Attrs::user_rx().with_accessed(false))));
        assert!(d.needs_bbm(d.with_attrs(Attrs::user_rw().with_mem(MemType::NonCacheable))));
        assert!(d.needs_bbm(Descriptor::leaf(3, pa + 0x1000, Attrs::user_rw())));
        let blk = Descriptor::leaf(2, pa, Attrs::kernel_rw());
        assert!(blk.needs_bbm(Descriptor::table(pa)));
        assert!(blk.needs_bbm(
            blk.with_attrs(Attrs::kernel_rw().with_owned(false))
                .with_attrs(Attrs::user_rw())
        ));
        assert!(Descriptor::table(pa).is_table(0) && !Descriptor::table(pa).is_leaf(0));
    }
}

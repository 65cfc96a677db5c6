//! The exception fix-up table: pairs of (instruction that may fault, where to resume).
//!
//! Entries are emitted next to the instruction with `.pushsection __ex_table` and collected by the
//! linker between `__ex_table_start` and `__ex_table_end`. User-memory copies and the semihosting
//! probe use it, so a fault there becomes an error value instead of a crash.

#[repr(C)]
struct Entry {
    insn: u64,
    fixup: u64,
}

extern "C" {
    static __ex_table_start: Entry;
    static __ex_table_end: Entry;
}

/// The resume address for a fault at `pc`, if the instruction there has one.
pub fn search(pc: u64) -> Option<u64> {
    // SAFETY: the linker script places the table's bounds around an array of `Entry`s in rodata.
    let table = unsafe {
        let start = &raw const __ex_table_start;
        let end = &raw const __ex_table_end;
        core::slice::from_raw_parts(start, end.offset_from(start) as usize)
    };
    table.iter().find(|e| e.insn == pc).map(|e| e.fixup)
}

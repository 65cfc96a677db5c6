//! What tidemark reads from the flattened device tree: RAM, reserved ranges, the UART, the GIC, the
//! PSCI conduit and the command line. A thin layer over the `fdt` crate that copies the facts into
//! plain values, so that nothing past boot holds on to the blob's parser.
use fdt::Fdt;

/// Upper bound on memory / reserved ranges kept; QEMU's virt machine has one memory node.
pub const MAX_RANGES: usize = 16;

pub use tidemark_mm::addr::Range;

/// A fixed-capacity list, because the device tree is read before the kernel heap exists.
#[derive(Clone, Copy, Debug)]
pub struct Ranges {
    items: [Range; MAX_RANGES],
    len: usize,
}

impl Ranges {
    pub const fn new() -> Self {
        Self {
            items: [Range { start: 0, size: 0 }; MAX_RANGES],
            len: 0,
        }
    }
    pub fn push(&mut self, r: Range) -> Result<(), DtError> {
        if self.len == MAX_RANGES {
            return Err(DtError::TooManyRanges);
        }
        self.items[self.len] = r;
        self.len += 1;
        Ok(())
    }
    pub fn as_slice(&self) -> &[Range] {
        &self.items[..self.len]
    }
    pub fn total(&self) -> usize {
        self.as_slice().iter().map(|r| r.size).sum()
    }
}

impl Default for Ranges {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciMethod {
    Hvc,
    Smc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gic {
    /// 2 or 3.
    pub version: u8,
    pub distributor: usize,
    /// GICv2 CPU interface or GICv3 redistributor region.
    pub cpu_or_redist: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtError {
    BadBlob,
    NoMemory,
    NoUart,
    TooManyRanges,
}

impl core::fmt::Display for DtError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DtError::BadBlob => "the device tree blob is malformed",
            DtError::NoMemory => "the device tree has no memory node",
            DtError::NoUart => "the device tree has no arm,pl011 UART",
            DtError::TooManyRanges => {
                "the device tree lists more memory ranges than tidemark keeps"
            }
        })
    }
}

/// Everything the kernel takes from the device tree.
#[derive(Clone, Copy, Debug)]
pub struct MachineInfo<'a> {
    pub memory: Ranges,
    /// `/memreserve/` entries and `/reserved-memory` children.
    pub reserved: Ranges,
    pub uart: usize,
    /// The UART's interrupt as a GIC interrupt ID (SPI n is 32 + n), if the tree says.
    pub uart_irq: Option<u32>,
    /// The PL031 real-time clock, if the machine has one.
    pub rtc: Option<usize>,
    pub gic: Option<Gic>,
    pub psci: Option<PsciMethod>,
    pub bootargs: &'a str,
    /// Where QEMU's `-initrd` put the initramfs (`/chosen` `linux,initrd-start`/`-end`).
    pub initrd: Option<Range>,
    pub cpus: usize,
    /// The cores' MPIDR affinities (`reg` of each `/cpus/cpu` node), the first `cpus` of them;
    /// cores past `MAX_CPUS` are left out.
    pub mpidrs: [u64; crate::arch::aarch64::MAX_CPUS],
    pub timer_freq: Option<u32>,
    /// Size of the blob itself (header `totalsize`), so that it can be kept out of the frame pool.
    pub dtb_size: usize,
}

fn first_reg(node: &fdt::node::FdtNode<'_, '_>) -> Option<Range> {
    let r = node.reg()?.next()?;
    Some(Range {
        start: r.starting_address as usize,
        size: r.size.unwrap_or(0),
    })
}

/// `/chosen` `linux,initrd-start`/`-end` (end exclusive), written as 32- or 64-bit cells.
fn initrd(fdt: &Fdt<'_>) -> Option<Range> {
    let chosen = fdt.find_node("/chosen")?;
    let start = chosen.property("linux,initrd-start")?.as_usize()?;
    let end = chosen.property("linux,initrd-end")?.as_usize()?;
    (start < end).then_some(Range {
        start,
        size: end - start,
    })
}

impl<'a> MachineInfo<'a> {
    /// Reads the facts out of a DTB.
    pub fn parse(blob: &'a [u8]) -> Result<Self, DtError> {
        let fdt = Fdt::new(blob).map_err(|_| DtError::BadBlob)?;
        let mut memory = Ranges::new();
        for node in fdt.all_nodes() {
            if node.property("device_type").and_then(|p| p.as_str()) != Some("memory") {
                continue;
            }
            for r in node.reg().into_iter().flatten() {
                if let Some(size) = r.size.filter(|&s| s > 0) {
                    memory.push(Range {
                        start: r.starting_address as usize,
                        size,
                    })?;
                }
            }
        }
        if memory.len == 0 {
            return Err(DtError::NoMemory);
        }

        let mut reserved = Ranges::new();
        for r in fdt.memory_reservations() {
            reserved.push(Range {
                start: r.address() as usize,
                size: r.size(),
            })?;
        }
        if let Some(rm) = fdt.find_node("/reserved-memory") {
            for child in rm.children() {
                if let Some(r) = first_reg(&child) {
                    reserved.push(r)?;
                }
            }
        }

        let uart_node = fdt.find_compatible(&["arm,pl011"]);
        let uart = uart_node
            .as_ref()
            .and_then(first_reg)
            .ok_or(DtError::NoUart)?
            .start;
        // `interrupts = <type number flags>` with the GIC's three cells: type 0 is an SPI, 1 a PPI.
        let uart_irq = uart_node
            .and_then(|n| n.property("interrupts"))
            .and_then(|p| {
                let cell = |i: usize| {
                    p.value
                        .get(i * 4..i * 4 + 4)
                        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                };
                match (cell(0)?, cell(1)?) {
                    (0, n) => Some(32 + n),
                    (1, n) => Some(16 + n),
                    _ => None,
                }
            });

        let rtc = fdt
            .find_compatible(&["arm,pl031"])
            .and_then(|n| first_reg(&n))
            .map(|r| r.start);

        let gic = fdt
            .find_compatible(&["arm,gic-v3", "arm,cortex-a15-gic", "arm,gic-400"])
            .and_then(|n| {
                let v3 = n.compatible()?.all().any(|c| c == "arm,gic-v3");
                let mut regs = n.reg()?;
                let dist = regs.next()?.starting_address as usize;
                let second = regs.next()?.starting_address as usize;
                Some(Gic {
                    version: if v3 { 3 } else { 2 },
                    distributor: dist,
                    cpu_or_redist: second,
                })
            });

        let psci = fdt
            .find_compatible(&["arm,psci-1.0", "arm,psci-0.2", "arm,psci"])
            .and_then(|n| n.property("method").and_then(|p| p.as_str()))
            .and_then(|m| match m {
                "hvc" => Some(PsciMethod::Hvc),
                "smc" => Some(PsciMethod::Smc),
                _ => None,
            });

        let timer_freq = fdt
            .find_compatible(&["arm,armv8-timer"])
            .and_then(|n| n.property("clock-frequency"))
            .and_then(|p| p.as_usize())
            .map(|f| f as u32);

        Ok(Self {
            memory,
            reserved,
            uart,
            uart_irq,
            rtc,
            gic,
            psci,
            bootargs: fdt
                .find_node("/chosen")
                .and_then(|c| c.property("bootargs"))
                .and_then(|p| p.as_str())
                .unwrap_or(""),
            initrd: initrd(&fdt),
            cpus: fdt.cpus().count().min(crate::arch::aarch64::MAX_CPUS),
            mpidrs: {
                let mut m = [0; crate::arch::aarch64::MAX_CPUS];
                for (slot, cpu) in m.iter_mut().zip(fdt.cpus()) {
                    *slot = cpu.property("reg").and_then(|p| p.as_usize()).unwrap_or(0) as u64;
                }
                m
            },
            timer_freq,
            dtb_size: fdt.total_size(),
        })
    }
}

/// Where the boot seeds lie in the blob: the byte ranges (offsets into `blob`) of the values of
/// `/chosen/rng-seed` and `/chosen/kaslr-seed`, so that the caller can use them and then wipe them.
pub fn boot_seed_ranges(blob: &[u8]) -> [Option<Range>; 2] {
    let Ok(fdt) = Fdt::new(blob) else {
        return [None, None];
    };
    let Some(chosen) = fdt.find_node("/chosen") else {
        return [None, None];
    };
    ["rng-seed", "kaslr-seed"].map(|name| {
        let v = chosen.property(name)?.value;
        let start = (v.as_ptr() as usize).checked_sub(blob.as_ptr() as usize)?;
        (!v.is_empty() && start + v.len() <= blob.len()).then_some(Range {
            start,
            size: v.len(),
        })
    })
}

/// The blob's size from its header, read before the whole blob is trusted to be mapped.
pub fn header_total_size(header: &[u8; 8]) -> Option<usize> {
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    (magic == 0xd00d_feed)
        .then(|| u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIRT_128M: &[u8] = include_bytes!("../../tests/data/qemu-virt-128M.dtb");
    const VIRT_EL2_4G: &[u8] = include_bytes!("../../tests/data/qemu-virt-el2-4G-smp2.dtb");

    #[test]
    fn reads_qemu_virt_128m() {
        let m = MachineInfo::parse(VIRT_128M).unwrap();
        assert_eq!(
            m.memory.as_slice(),
            &[Range {
                start: 0x4000_0000,
                size: 128 << 20
            }]
        );
        assert_eq!(m.uart, 0x0900_0000);
        assert_eq!(m.rtc, Some(0x0901_0000));
        assert_eq!(m.psci, Some(PsciMethod::Hvc));
        let gic = m.gic.unwrap();
        assert_eq!((gic.version, gic.distributor), (2, 0x0800_0000));
        assert_eq!(m.cpus, 1);
        assert_eq!(m.dtb_size, VIRT_128M.len());
    }

    #[test]
    fn reads_qemu_virt_el2_4g_with_two_cpus() {
        let m = MachineInfo::parse(VIRT_EL2_4G).unwrap();
        assert_eq!(m.memory.total(), 4 << 30);
        assert_eq!(m.cpus, 2);
        assert_eq!(&m.mpidrs[..2], &[0, 1]);
        // With EL2 given to the guest, QEMU's own PSCI answers SMC, not HVC.
        assert_eq!(m.psci, Some(PsciMethod::Smc));
    }

    #[test]
    fn finds_the_boot_seeds() {
        let [rng, kaslr] = boot_seed_ranges(VIRT_128M);
        // QEMU 7.2's virt machine: 32 bytes of rng-seed and a 64-bit kaslr-seed.
        assert_eq!(rng.map(|r| r.size), Some(32));
        assert_eq!(kaslr.map(|r| r.size), Some(8));
        assert_eq!(boot_seed_ranges(&[0u8; 64]), [None, None]);
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(
            MachineInfo::parse(&[0u8; 64]).unwrap_err(),
            DtError::BadBlob
        );
        assert_eq!(
            header_total_size(&[0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0x10, 0]),
            Some(0x1000)
        );
        assert_eq!(header_total_size(&[0; 8]), None);
    }
}

# GDB Python helpers for tidemark, sourced by qemu/gdbinit (see docs/debugging.md).
#
#   tm-maps                      the current process's VMAs, line for line as /proc/self/maps
#   tm-walk [--root PA] ADDR     the stage 1 translation-table walk of an address, level by level
#   tm-frames                    free and total physical frames
#
# They only read. Kernel data is located through the debug info (symbols, field offsets) and read
# through the kernel's linear map (VA = PA + LINEAR_MAP_BASE); translation tables are read by
# physical address the same way. When the CPU is stopped at EL0, QEMU's gdbstub cannot read
# kernel addresses (it translates with the EL0 regime), so the helpers switch QEMU's gdbstub to
# physical-memory mode (`maint packet Qqemu.PhyMemMode:1`) for the length of the command and read
# linear-map addresses as PA = VA - LINEAR_MAP_BASE. That is why they parse structures from raw
# bytes (offsets from the DWARF types) instead of letting GDB dereference kernel pointers.
#
# Loading this file also registers the Rust toolchain's pretty printers (as rust-gdb does), found
# with `rustc --print sysroot` from the repository, or $TIDEMARK_RUST_ETC; set
# TIDEMARK_GDB_NO_RUST_PRINTERS=1 to skip that.
import os
import re
import subprocess
import sys

import gdb

LINEAR_MAP_BASE = 0xFFFF_0000_0000_0000
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

# VM_* bits (src/mm/vma.rs, Linux's values).
VM_READ, VM_WRITE, VM_EXEC, VM_MAYSHARE = 0x1, 0x2, 0x4, 0x80
# Linux pads the maps header to this column before the name (src/mm/proc_fmt.rs NAME_COLUMN).
NAME_COLUMN = 72

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TmError(Exception):
    """A helper failed in a way worth one clear line (no Python traceback)."""


# --------------------------------------------------------------------------------------------
# The Rust toolchain's pretty printers (a convenience for `print`; the helpers do not need them)


def _register_rust_printers():
    if os.environ.get("TIDEMARK_GDB_NO_RUST_PRINTERS"):
        return
    etc = os.environ.get("TIDEMARK_RUST_ETC")
    if not etc:
        try:
            sysroot = subprocess.run(
                ["rustc", "--print", "sysroot"], cwd=_REPO, capture_output=True, text=True, timeout=20
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return
        etc = os.path.join(sysroot, "lib", "rustlib", "etc")
    if not os.path.exists(os.path.join(etc, "gdb_lookup.py")):
        return
    if etc not in sys.path:
        sys.path.append(etc)
    try:
        import gdb_lookup

        gdb_lookup.register_printers(gdb.current_progspace())
    except Exception as e:  # printers from another GDB/Python era: carry on without them
        gdb.write("tidemark-gdb: Rust pretty printers not loaded: %s\n" % e)


_register_rust_printers()


# --------------------------------------------------------------------------------------------
# Memory


class Mem:
    """Reads for one command: kernel VAs through the current translation, falling back to QEMU's
    physical-memory mode (restored when the command ends) when that fails, e.g. at EL0."""

    def __init__(self):
        self.phys = False
        self.inf = gdb.selected_inferior()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.phys:
            gdb.execute("maint packet Qqemu.PhyMemMode:0", to_string=True)
            gdb.execute("maint flush dcache", to_string=True)

    def _raw(self, addr, n):
        return bytes(self.inf.read_memory(addr, n))

    def _go_physical(self):
        if self.phys:
            return True
        try:
            reply = gdb.execute("maint packet Qqemu.PhyMemMode:1", to_string=True)
        except gdb.error:
            return False
        self.phys = '"OK"' in reply
        return self.phys

    def read(self, va, n):
        """`n` bytes at kernel virtual address `va`."""
        if not self.phys:
            try:
                return self._raw(va, n)
            except gdb.MemoryError:
                if va < LINEAR_MAP_BASE or not self._go_physical():
                    raise TmError("cannot read %#x (has the kernel turned the MMU on yet?)" % va)
        if va < LINEAR_MAP_BASE:
            raise TmError("%#x is not a linear-map address; cannot read it in physical mode" % va)
        return self.read_phys(va - LINEAR_MAP_BASE, n)

    def read_phys(self, pa, n):
        try:
            if self.phys:
                return self._raw(pa, n)
            return self._raw(LINEAR_MAP_BASE + pa, n)
        except gdb.MemoryError:
            if not self.phys and self._go_physical():
                return self.read_phys(pa, n)
            raise TmError("cannot read PA %#x (not RAM, or the MMU is off)" % pa)

    def u64(self, va):
        return int.from_bytes(self.read(va, 8), "little")

    def phys_u64(self, pa):
        return int.from_bytes(self.read_phys(pa, 8), "little")


class Obj:
    """A typed object at a kernel address, read on demand through a Mem."""

    def __init__(self, mem, addr, ty):
        self.mem, self.addr, self.type = mem, addr, ty.strip_typedefs()

    @property
    def name(self):
        return self.type.name or ""

    def names(self):
        return [f.name for f in self.type.fields()]

    def __getitem__(self, field):
        for f in self.type.fields():
            if f.name == field:
                return Obj(self.mem, self.addr + f.bitpos // 8, f.type)
        raise TmError("no field %r in %s (layout changed?)" % (field, self.name))

    def int(self):
        return int.from_bytes(self.mem.read(self.addr, self.type.sizeof), "little")

    def index(self, i):
        elem = self.type.target()
        return Obj(self.mem, self.addr + i * elem.sizeof, elem)

    def deref(self):
        return Obj(self.mem, self.int(), self.type.target())

    def cast(self, ty):
        return Obj(self.mem, self.addr, ty)

    def peel(self):
        """Looks through newtypes and cells: spin::Mutex, SpinMutex, Once, UnsafeCell,
        MaybeUninit, ManuallyDrop, MaybeDangling, NonNull, Unique, PhysAddr..."""
        o = self
        while o.type.code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
            names = o.names()
            for n in ("inner", "data", "value", "pointer", "__0"):
                if n in names and (n != "data" or o.name.startswith("spin::")):
                    o = o[n]
                    break
            else:
                return o
        return o


def static(mem, path):
    """The kernel static `path`, located by its symbol (without reading it)."""
    sym = gdb.lookup_global_symbol(path) or gdb.lookup_static_symbol(path)
    if sym is None:
        raise TmError("no symbol %s: is GDB using build/tidemark.elf?" % path)
    m = re.search(r"at address (0x[0-9a-fA-F]+)", gdb.execute("info address " + path, to_string=True))
    if not m:
        raise TmError("cannot locate %s" % path)
    return Obj(mem, int(m.group(1), 16), sym.type)


def current_process(mem):
    """The Process running on the core GDB has selected: `CPUS[cpu].current`, a
    Mutex<Option<Box<Process>>> (QEMU names core N as GDB thread N + 1), or a TmError."""
    cpu = gdb.selected_thread().num - 1 if gdb.selected_thread() else 0
    cpus = static(mem, "tidemark::task::sched::CPUS")
    opt = cpus.index(cpu)["current"].peel()
    ptr = mem.u64(opt.addr)  # Option<Box<T>> is a nullable pointer
    if ptr == 0:
        raise TmError("no process is running on CPU %d (its slot in tidemark::task::sched::CPUS is None)" % cpu)
    return Obj(mem, ptr, gdb.lookup_type("tidemark::task::process::Process"))


def arc_value(arc):
    """The value behind an Arc<T> (ArcInner {strong, weak, data}), through a spin::Mutex too."""
    inner = arc["ptr"].peel().deref()
    return inner["data"].peel()


def process_mm(proc):
    """The MmStruct of a Process: its `mm` is an Arc<spin::Mutex<MmStruct>> shared by threads."""
    return arc_value(proc["mm"])


def vec_items(vec):
    """The elements of a Vec<T> (alloc's layout, as the toolchain's gdb_providers.py reads it):
    buf.inner.ptr points at `len` elements of T."""
    length = vec["len"].int()
    if length > 1 << 20:
        raise TmError("Vec at %#x has len %d" % (vec.addr, length))
    ptr = vec.mem.u64(vec["buf"]["inner"]["ptr"].addr)
    elem = vec.type.template_argument(0)
    return [Obj(vec.mem, ptr + i * elem.sizeof, elem) for i in range(length)]


def vma_tree_values(tree):
    """The VMAs of a VmaTree in address order (crates/mm/src/vma_tree.rs): a B+ tree of
    Node {vmas, children}, Child {min, node}; a node without children is a leaf."""
    out = []

    def node(n, depth):
        if depth > 16:
            raise TmError("the VMA tree looks corrupt (deeper than 16 levels)")
        children = vec_items(n["children"])
        if not children:
            out.extend(vec_items(n["vmas"]))
        for c in children:
            node(c["node"], depth + 1)

    node(tree["root"], 0)
    return out


def vma_file(vma):
    """(name, dev, ino) of a Vma's `file`, an Option<Arc<VmaFile>> (a nullable pointer to
    ArcInner {strong, weak, data}); (None, 0, 0) for anonymous memory."""
    ptr = vma.mem.u64(vma["file"].addr)
    if ptr == 0:
        return None, 0, 0
    inner = Obj(vma.mem, ptr, gdb.lookup_type("alloc::sync::ArcInner<tidemark_mm::vma::VmaFile>"))
    f = inner["data"]
    return rust_str(f["name"]), f["dev"].int(), f["ino"].int()


def rust_str(opt_arc):
    """Text of an Arc<str> or Option<Arc<str>> (None -> None): a fat pointer to ArcInner
    {strong, weak, data}."""
    mem = opt_arc.mem
    ptr, length = mem.u64(opt_arc.addr), mem.u64(opt_arc.addr + 8)
    if ptr == 0:
        return None
    if length > 4096:
        return "<bad str len %d>" % length
    return mem.read(ptr + 16, length).decode("utf-8", "replace") if length else ""


def run_command(name, body):
    try:
        with Mem() as mem:
            return body(mem)
    except TmError as e:
        raise gdb.GdbError("%s: %s" % (name, e))
    except gdb.error as e:
        raise gdb.GdbError("%s: %s" % (name, e))


# --------------------------------------------------------------------------------------------
# tm-maps


def maps_lines(proc):
    """show_map_vma (src/mm/proc_fmt.rs) over the process's VMA tree."""
    mm = process_mm(proc)
    brk, start_brk, start_stack = mm["brk"].int(), mm["start_brk"].int(), mm["start_stack"].int()
    lines = []
    for vma in vma_tree_values(mm["tree"]):
        start, end = vma["start"].int(), vma["end"].int()
        flags = vma["flags"].peel().int()
        name, dev, ino = vma_file(vma)
        perms = "".join(c if flags & bit else "-" for bit, c in ((VM_READ, "r"), (VM_WRITE, "w"), (VM_EXEC, "x")))
        perms += "s" if flags & VM_MAYSHARE else "p"
        offset = (vma["pgoff"].int() << PAGE_SHIFT) if name is not None else 0
        major, minor = (dev >> 8) & 0xFFF, (dev & 0xFF) | ((dev >> 12) & 0xFFF00)
        line = "%08x-%08x %s %08x %02x:%02x %d " % (start, end, perms, offset, major, minor, ino)
        if name is None and start <= brk and end >= start_brk:
            name = "[heap]"
        elif name is None and start <= start_stack <= end:
            name = "[stack]"
        if name is not None:
            line = line.ljust(NAME_COLUMN) + " " + name
        lines.append(line)
    return lines


class TmMaps(gdb.Command):
    """Print the current process's VMAs like /proc/self/maps.
Usage: tm-maps
Reads the selected core's tidemark::task::sched::CPUS slot -> Process.mm.tree (a B+ tree keyed by start address) and
formats each VMA as show_map_vma does ([heap] and [stack] named the same way)."""

    def __init__(self):
        super().__init__("tm-maps", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        lines = run_command("tm-maps", lambda mem: maps_lines(current_process(mem)))
        for line in lines:
            gdb.write(line + "\n")


# --------------------------------------------------------------------------------------------
# tm-walk

AP_NAMES = {0: "EL1 RW, EL0 none", 1: "EL1 RW, EL0 RW", 2: "EL1 RO, EL0 none", 3: "EL1 RO, EL0 RO"}
SH_NAMES = {0: "non", 1: "reserved", 2: "outer", 3: "inner"}
# MAIR_EL1 slots as src/mm/pagetable/descriptor.rs programs them.
ATTR_NAMES = {0: "Normal WB", 1: "Normal NC", 2: "Device-nGnRE"}
OA_MASK = 0x0000_FFFF_FFFF_F000


def _register(name):
    try:
        return int(gdb.parse_and_eval("$" + name)) & 0xFFFF_FFFF_FFFF_FFFF
    except gdb.error:
        return None


def _walk_root(mem, va):
    """(which TTBR, root table PA, ASID or None, where the root came from)."""
    if va >> 48 == 0:
        ttbr = _register("TTBR0_EL1")
        if ttbr is not None and ttbr & OA_MASK:
            return "TTBR0_EL1", ttbr & 0x0000_FFFF_FFFF_FFFE, ttbr >> 48, "register"
        root = process_mm(current_process(mem))["pt"]["pages"]["pt"]["root"].peel().int()
        return "TTBR0_EL1", root, None, "current process's mm.pt"
    if va >> 48 == 0xFFFF:
        ttbr = _register("TTBR1_EL1")
        if ttbr is not None and ttbr & OA_MASK:
            return "TTBR1_EL1", ttbr & 0x0000_FFFF_FFFF_FFFE, None, "register"
        table = static(mem, "tidemark::mm::KERNEL_TABLE").peel()
        return "TTBR1_EL1", table["root"].peel().int(), None, "mm::KERNEL_TABLE"
    raise TmError("%#x is not canonical for 48-bit VAs (T0SZ = T1SZ = 16)" % va)


def _leaf_attrs(d):
    ap = (d >> 6) & 3
    parts = [
        "AP=%d (%s)" % (ap, AP_NAMES[ap]),
        "UXN=%d" % ((d >> 54) & 1),
        "PXN=%d" % ((d >> 53) & 1),
        "AF=%d" % ((d >> 10) & 1),
        "nG=%d" % ((d >> 11) & 1),
        "SH=%s" % SH_NAMES[(d >> 8) & 3],
        "AttrIndx=%d (%s)" % ((d >> 2) & 7, ATTR_NAMES.get((d >> 2) & 7, "?")),
    ]
    if (d >> 52) & 1:
        parts.append("Contig")
    if (d >> 56) & 1:
        parts.append("owned")
    if (d >> 55) & 1:
        parts.append("sw-dirty")
    return " ".join(parts)


def _table_attrs(d):
    bits = [("NSTable", 63, 1), ("APTable", 61, 3), ("UXNTable", 60, 1), ("PXNTable", 59, 1)]
    set_bits = ["%s=%d" % (n, (d >> s) & m) for n, s, m in bits if (d >> s) & m]
    return " ".join(set_bits) if set_bits else "no table limits"


def walk(mem, va, root=None):
    """Returns (lines, final PA or None, leaf level or None)."""
    lines = []
    if root is None:
        which, root, asid, source = _walk_root(mem, va)
        head = "%s: root table %#x (from %s)" % (which, root, source)
        if asid is not None:
            head += ", ASID %d" % asid
    else:
        head = "root table %#x (given)" % root
    lines.append("walk of VA %#018x  %s" % (va, head))
    table = root
    for level in range(4):
        shift = 39 - 9 * level
        idx = (va >> shift) & 0x1FF
        d = mem.phys_u64(table + 8 * idx)
        prefix = "L%d: table %-11s [%3d] = %#018x " % (level, "%#x" % table, idx, d)
        if not d & 1:
            lines.append(prefix + "invalid")
            lines.append("result: not mapped (translation fault at level %d)" % level)
            return lines, None, None
        is_table = bool(d & 2)
        if level < 3 and is_table:
            table = d & OA_MASK
            lines.append(prefix + "table -> %#x  %s" % (table, _table_attrs(d)))
            continue
        if level == 3 and not is_table:
            lines.append(prefix + "reserved (invalid at level 3)")
            lines.append("result: not mapped (translation fault at level 3)")
            return lines, None, None
        if level == 0:
            lines.append(prefix + "block at level 0 (invalid with a 4 KiB granule)")
            lines.append("result: not mapped (translation fault at level 0)")
            return lines, None, None
        size = 1 << shift
        oa = d & OA_MASK & ~(size - 1)
        kind = "page" if level == 3 else "block %s" % ("1 GiB" if level == 1 else "2 MiB")
        lines.append(prefix + "%s -> %#x  %s" % (kind, oa, _leaf_attrs(d)))
        pa = oa | (va & (size - 1))
        lines.append("result: PA %#x (%s, linear-map alias %#x)" % (pa, kind, LINEAR_MAP_BASE + pa))
        return lines, pa, level
    return lines, None, None


def _address_of(expr):
    v = gdb.parse_and_eval(expr)
    if v.type.strip_typedefs().code == gdb.TYPE_CODE_FUNC:
        v = v.address
    return int(v) & 0xFFFF_FFFF_FFFF_FFFF


class TmWalk(gdb.Command):
    """Print the stage 1 translation-table walk of a virtual address, level by level.
Usage: tm-walk [--root ROOT_PA] ADDR
ADDR is any GDB expression (a number, a register, a function, `tf.x[0] + 8`...). The root is
TTBR0_EL1 (user half) or TTBR1_EL1 (kernel half) as QEMU's gdbstub reports them; when a register
is unavailable or points at no table, the current process's table (user) or mmu::KERNEL_TABLE
(kernel) is used. --root walks another table. Each level shows the table's PA, the index, the raw
descriptor and its decoding. Afterwards $tm_pa holds the physical address and $tm_level the leaf
level (0 and -1 when the address is not mapped)."""

    def __init__(self):
        super().__init__("tm-walk", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        arg = arg.strip()
        root_expr = None
        if arg.startswith(("--root ", "-r ")):
            _, root_expr, arg = (arg.split(None, 2) + [""])[:3]
        if not arg:
            raise gdb.GdbError("usage: tm-walk [--root ROOT_PA] ADDR")

        def body(mem):
            va = _address_of(arg)
            root = int(gdb.parse_and_eval(root_expr)) if root_expr else None
            return walk(mem, va, root)

        lines, pa, level = run_command("tm-walk", body)
        for line in lines:
            gdb.write(line + "\n")
        gdb.set_convenience_variable("tm_pa", pa or 0)
        gdb.set_convenience_variable("tm_level", level if level is not None else -1)


# --------------------------------------------------------------------------------------------
# tm-frames


class TmFrames(gdb.Command):
    """Print free and total physical frames (tidemark::mm::frame::FRAMES).
Usage: tm-frames"""

    def __init__(self):
        super().__init__("tm-frames", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        def body(mem):
            pool = static(mem, "tidemark::mm::frame::FRAMES").peel()
            return pool["free"].int(), pool["total"].int()

        free, total = run_command("tm-frames", body)
        used = total - free
        gdb.write(
            "frames: %d free of %d (%d KiB free), %d in use (%d KiB)\n"
            % (free, total, free * PAGE_SIZE >> 10, used, used * PAGE_SIZE >> 10)
        )


TmMaps()
TmWalk()
TmFrames()

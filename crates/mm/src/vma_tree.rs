//! The ordered set of an address space's VMAs, keyed by start address (Linux: the maple tree): a
//! B+ tree whose leaves hold the VMAs in address order, and whose inner nodes hold, per child,
//! the start of the first VMA below it.
//!
//! One descent answers what mmap, munmap and brk ask together: the VMA below an address and the
//! one after it. The one below is always in the leaf the descent reaches; the one after is
//! there too, or, when the leaf ends first, the first VMA of the nearest subtree to the right met
//! on the way down. `alloc`'s `BTreeMap` answered each with a descent of its own (two for
//! `find_vma` between VMAs) and gives no cursor on stable Rust; an mmap and munmap pair spent
//! about 1,200 instructions in it, a third of the pair.
//!
//! The tree itself does not check for overlap — callers (mmap.rs, brk.rs) keep VMAs disjoint
//! and `MmStruct::validate_mm` verifies it, with [`VmaTree::check`] for the tree's own shape.
use alloc::vec::Vec;
use core::ptr::NonNull;

use super::addr::PAGE_SIZE;
use super::vma::{Vma, VM_GROWSDOWN};

/// Linux `stack_guard_gap`: 256 pages kept free below a VM_GROWSDOWN VMA (Stack Clash fix).
pub const STACK_GUARD_GAP: usize = 256 * PAGE_SIZE;

/// Lowest address a VMA's neighbours must keep clear of (Linux `vm_start_gap`): its start, minus the
/// guard gap for stacks, saturating at 0.
pub fn vm_start_gap(vma: &Vma) -> usize {
    if vma.flags.contains(VM_GROWSDOWN) {
        vma.start.saturating_sub(STACK_GUARD_GAP)
    } else {
        vma.start
    }
}

/// Linux `vm_end_gap`: only upward-growing stacks (not on arm64) have a gap above them.
pub fn vm_end_gap(vma: &Vma) -> usize {
    vma.end
}

/// The most entries (VMAs in a leaf, children in an inner node) a node holds; one more splits
/// it in two. Sixteen keep a leaf's shift on insert or remove to about 600 bytes of VMAs.
const CAP: usize = 16;
/// A node left with fewer entries by a removal is merged with a neighbour when both fit in one,
/// so that every node but a few holds several entries and the height stays logarithmic.
const MIN_FILL: usize = CAP / 4;
/// The deepest tree [`VmaTree::check`] accepts. A split leaves two nodes of at least `CAP / 2`
/// entries, and a node below [`MIN_FILL`] stays so only beside neighbours of more than
/// `CAP - MIN_FILL`, so nodes hold about seven entries or more on average: 16 levels lie far
/// beyond `max_map_count`'s 65,530 VMAs.
const MAX_DEPTH: usize = 16;

/// A node of the tree. Every leaf is at the same depth; a node other than the root is never
/// empty.
///
/// A plain struct with one of its two vectors empty rather than an enum, so that a debugger's
/// script reads it from memory without Rust's enum layouts (`qemu/tidemark-gdb.py`); [`Kind`]
/// gives the enum's view.
#[derive(Clone, Debug)]
struct Node {
    /// A leaf's VMAs in address order; empty in an inner node.
    vmas: Vec<Vma>,
    /// An inner node's subtrees in address order; empty in a leaf.
    children: Vec<Child>,
}

/// What a [`Node`] is.
enum Kind<'a> {
    Leaf(&'a Vec<Vma>),
    Inner(&'a Vec<Child>),
}

/// What a [`Node`] is, for changing it.
enum KindMut<'a> {
    Leaf(&'a mut Vec<Vma>),
    Inner(&'a mut Vec<Child>),
}

#[derive(Clone, Debug)]
struct Child {
    /// The start of the first VMA below (the subtree's least key).
    min: usize,
    node: Node,
}

/// A new node's storage: room for the entry that makes it split, so it never reallocates.
fn node_vec<T>() -> Vec<T> {
    Vec::with_capacity(CAP + 1)
}

/// Moves the upper half of a node that overflowed into a new one.
fn split_half<T>(v: &mut Vec<T>) -> Vec<T> {
    let mut right = node_vec();
    right.extend(v.drain(v.len() / 2..));
    right
}

/// The child whose subtree holds keys up to `key` (`strict`: below it): the last one whose least
/// key is at most (below) `key`, or the first.
#[inline]
fn child_index(children: &[Child], key: usize, strict: bool) -> usize {
    children
        .partition_point(|c| c.min < key || (!strict && c.min == key))
        .saturating_sub(1)
}

impl Node {
    const fn leaf(vmas: Vec<Vma>) -> Node {
        Node {
            vmas,
            children: Vec::new(),
        }
    }

    fn inner(children: Vec<Child>) -> Node {
        Node {
            vmas: Vec::new(),
            children,
        }
    }

    #[inline]
    fn get(&self) -> Kind<'_> {
        if self.children.is_empty() {
            Kind::Leaf(&self.vmas)
        } else {
            Kind::Inner(&self.children)
        }
    }

    #[inline]
    fn get_mut(&mut self) -> KindMut<'_> {
        if self.children.is_empty() {
            KindMut::Leaf(&mut self.vmas)
        } else {
            KindMut::Inner(&mut self.children)
        }
    }

    fn len(&self) -> usize {
        match self.get() {
            Kind::Leaf(v) => v.len(),
            Kind::Inner(c) => c.len(),
        }
    }

    /// The subtree's least key; only asked of non-empty nodes.
    fn min(&self) -> usize {
        match self.get() {
            Kind::Leaf(v) => v[0].start,
            Kind::Inner(c) => c[0].min,
        }
    }

    fn leftmost(&self) -> Option<&Vma> {
        let mut n = self;
        loop {
            match n.get() {
                Kind::Leaf(v) => return v.first(),
                Kind::Inner(c) => n = &c.first()?.node,
            }
        }
    }

    /// Appends the entries of `other`, a node at the same depth.
    fn append(&mut self, other: Node) {
        self.vmas.extend(other.vmas);
        self.children.extend(other.children);
    }

    /// Inserts `vma` below this node; an overflow splits it and returns the new right half.
    fn insert(&mut self, vma: Vma) -> Option<Child> {
        match self.get_mut() {
            KindMut::Leaf(vmas) => {
                let j = vmas.partition_point(|v| v.start < vma.start);
                debug_assert!(
                    vmas.get(j).is_none_or(|v| v.start != vma.start),
                    "two VMAs at one start address"
                );
                if vmas.capacity() == 0 {
                    vmas.reserve_exact(CAP + 1);
                }
                vmas.insert(j, vma);
                (vmas.len() > CAP).then(|| {
                    let right = split_half(vmas);
                    Child {
                        min: right[0].start,
                        node: Node::leaf(right),
                    }
                })
            }
            KindMut::Inner(children) => {
                let i = child_index(children, vma.start, false);
                let start = vma.start;
                let split = children[i].node.insert(vma);
                children[i].min = children[i].min.min(start);
                let c = split?;
                children.insert(i + 1, c);
                (children.len() > CAP).then(|| {
                    let right = split_half(children);
                    Child {
                        min: right[0].min,
                        node: Node::inner(right),
                    }
                })
            }
        }
    }

    /// Removes the VMA starting at `key` from below this node and hands it to `f`; a child left
    /// empty goes, one left small merges with a neighbour.
    fn remove<R>(&mut self, key: usize, f: impl FnOnce(Vma) -> R) -> Option<R> {
        match self.get_mut() {
            KindMut::Leaf(vmas) => {
                let j = vmas.partition_point(|v| v.start < key);
                if vmas.get(j)?.start != key {
                    return None;
                }
                Some(f(vmas.remove(j)))
            }
            KindMut::Inner(children) => {
                let i = child_index(children, key, false);
                let r = children[i].node.remove(key, f)?;
                let n = children[i].node.len();
                if n == 0 {
                    children.remove(i);
                } else {
                    children[i].min = children[i].node.min();
                    if n < MIN_FILL {
                        merge_small(children, i);
                    }
                }
                Some(r)
            }
        }
    }
}

/// Merges child `i`, left small by a removal, with its right or else its left neighbour when
/// the two fit in one node.
fn merge_small(children: &mut Vec<Child>, i: usize) {
    let len = |k: usize| children[k].node.len();
    let left = if i + 1 < children.len() && len(i) + len(i + 1) <= CAP {
        i
    } else if i > 0 && len(i - 1) + len(i) <= CAP {
        i - 1
    } else {
        return;
    };
    let right = children.remove(left + 1).node;
    children[left].node.append(right);
}

/// The VMAs, plus the last one a fault or an in-place change went to (Linux's per-thread
/// `vmacache` of 3.15–5.18, one entry): faults come in runs in one VMA and brk works on the heap
/// over and over, and a hit is a bounds check instead of a search from the root.
///
/// `hint` points into a leaf. Leaves' VMAs move or go only when the tree's shape changes
/// (`insert`, `remove`, `clear`), which all reset it; values stay put under `get_mut`, whose
/// callers never change a VMA's `start` (its key). The pointer is only ever taken from a `&mut`
/// borrow of the value, so writing through it in `get_mut` is allowed; `&self` lookups only read
/// through it.
#[derive(Debug)]
pub struct VmaTree {
    root: Node,
    len: usize,
    hint: Option<NonNull<Vma>>,
    /// The VMA after the hinted one once a search found it (`Some(None)`: there is none), so
    /// that brk, which grows the heap towards it call after call, looks it up once. Reset with
    /// the hint; a change to the hinted VMA through `get_mut` keeps it (VMAs stay disjoint, so
    /// the next one stays next).
    hint_next: Option<Option<NonNull<Vma>>>,
    /// Changes made so far (from 1): whoever remembers a VMA's bounds and flags from a lookup
    /// may use them while this is unchanged (the fault path's [`FaultHint`](crate::fault::FaultHint)).
    seq: u64,
}

impl Default for VmaTree {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: `hint` and `hint_next` point into leaves the tree owns; they are used only with the
// borrow of the whole tree that the method holds (`&self` reads, `&mut self` writes).
unsafe impl Send for VmaTree {}
// SAFETY: as above; `&self` methods only read through them.
unsafe impl Sync for VmaTree {}

impl Clone for VmaTree {
    fn clone(&self) -> Self {
        VmaTree {
            root: self.root.clone(),
            len: self.len,
            hint: None,
            hint_next: None,
            seq: 1,
        }
    }
}

impl VmaTree {
    pub const fn new() -> Self {
        VmaTree {
            root: Node::leaf(Vec::new()),
            len: 0,
            hint: None,
            hint_next: None,
            seq: 1,
        }
    }

    /// The tree's change count: it moves whenever a VMA may have been added, removed or changed.
    #[inline]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The hinted VMA, if any.
    #[inline]
    fn hinted(&self) -> Option<&Vma> {
        // SAFETY: `hint` is reset whenever the leaves' VMAs may move (see the type's notes), so
        // it points at a live VMA of the tree; `&self` keeps the tree from changing meanwhile.
        self.hint.map(|p| unsafe { &*p.as_ptr() })
    }

    /// The last VMA starting below `key` and the first starting at or above it, in one descent.
    /// Each level takes the last child whose least key is below `key`, so the first VMA of the
    /// leaf reached starts below it too (unless no VMA does) and the one below `key` is always
    /// in that leaf; the one above is there or, when the leaf ends first, the first VMA of the
    /// nearest subtree to the right met on the way down.
    fn locate(&self, key: usize) -> (Option<&Vma>, Option<&Vma>) {
        let mut right: Option<&Node> = None;
        let mut node = &self.root;
        loop {
            match node.get() {
                Kind::Inner(children) => {
                    let i = child_index(children, key, true);
                    if i + 1 < children.len() {
                        right = Some(&children[i + 1].node);
                    }
                    node = &children[i].node;
                }
                Kind::Leaf(vmas) => {
                    let j = vmas.partition_point(|v| v.start < key);
                    let above = vmas.get(j).or_else(|| right.and_then(Node::leftmost));
                    return (vmas[..j].last(), above);
                }
            }
        }
    }

    /// The leaf whose VMAs would hold `key` as a start or contain it.
    fn leaf_mut(&mut self, key: usize) -> &mut Vec<Vma> {
        let mut node = &mut self.root;
        loop {
            match node.get_mut() {
                KindMut::Inner(children) => {
                    let i = child_index(children, key, false);
                    node = &mut children[i].node;
                }
                KindMut::Leaf(vmas) => return vmas,
            }
        }
    }

    /// The VMA containing `addr`, searched from the root: it is the last one starting at or
    /// below `addr`, which always lies in the leaf the descent reaches.
    fn containing_mut(&mut self, addr: usize) -> Option<&mut Vma> {
        let vmas = self.leaf_mut(addr);
        let j = vmas.partition_point(|v| v.start <= addr);
        vmas[..j].last_mut().filter(|v| v.end > addr)
    }

    /// [`find_vma`](Self::find_vma) for the fault path, which holds the tree mutably: the
    /// containing VMA becomes the hint, so that the next fault in it skips the search.
    #[inline]
    pub fn find_vma_hinted(&mut self, addr: usize) -> Option<&Vma> {
        if let Some(v) = self.hinted() {
            if v.start <= addr && addr < v.end {
                return self.hinted();
            }
        }
        self.find_vma_and_hint(addr)
    }

    /// The search of [`find_vma_hinted`](Self::find_vma_hinted) after a miss.
    #[inline(never)]
    fn find_vma_and_hint(&mut self, addr: usize) -> Option<&Vma> {
        if let Some(v) = self.containing_mut(addr) {
            // The pointer is made from a unique borrow of the value (see the type's notes).
            self.hint = Some(NonNull::from(v));
            self.hint_next = None;
            return self.hinted();
        }
        self.find_vma(addr)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// All VMAs in address order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            front: Cursor::first(&self.root),
            back: Cursor::last(&self.root),
            remaining: self.len,
        }
    }

    /// The first VMA with `end > addr`: the one containing `addr`, or the next above it (Linux `find_vma`).
    pub fn find_vma(&self, addr: usize) -> Option<&Vma> {
        if let Some(v) = self.hinted() {
            if v.start <= addr && addr < v.end {
                debug_assert!(core::ptr::eq(self.search_vma(addr).unwrap(), v));
                return Some(v);
            }
        }
        self.search_vma(addr)
    }

    /// `find_vma` by a search from the root.
    fn search_vma(&self, addr: usize) -> Option<&Vma> {
        match self.locate(addr) {
            (Some(v), _) if v.end > addr => Some(v),
            (_, above) => above,
        }
    }

    /// `find_vma(addr)` and the VMA just before it (the last VMA when nothing lies at or above `addr`)
    /// (Linux `find_vma_prev`).
    pub fn find_vma_prev(&self, addr: usize) -> (Option<&Vma>, Option<&Vma>) {
        match self.locate(addr) {
            (Some(v), _) if v.end > addr => (Some(v), self.locate(v.start).0),
            (below, above) => (above, below),
        }
    }

    /// The first VMA overlapping `[start, end)` (Linux `find_vma_intersection`).
    pub fn find_vma_intersection(&self, start: usize, end: usize) -> Option<&Vma> {
        self.find_vma(start).filter(|v| v.start < end)
    }

    /// The VMA that ends exactly at `addr`, if any.
    pub fn vma_ending_at(&self, addr: usize) -> Option<&Vma> {
        self.locate(addr).0.filter(|v| v.end == addr)
    }

    /// `(vma_ending_at(addr), find_vma(addr))` in one search: the VMA that ends exactly at
    /// `addr`, and the first VMA with `end > addr`. When the hinted VMA ends at `addr` (the heap
    /// at the break) it needs no search, and the next one is searched for once per hint.
    pub fn ending_at_and_next(&mut self, addr: usize) -> (Option<&Vma>, Option<&Vma>) {
        let ends_here = self.hinted().is_some_and(|v| v.end == addr);
        if ends_here && self.hint_next.is_none() {
            self.hint_next = Some(self.locate(addr).1.map(NonNull::from));
        }
        let hinted = self.hinted().and_then(|v| {
            if v.end == addr {
                // SAFETY: `hint_next` points at a live VMA of the tree like `hint` (it is reset
                // with it), and `&self` keeps the tree from changing meanwhile.
                let next = self.hint_next.flatten().map(|p| unsafe { &*p.as_ptr() });
                Some((Some(v), next))
            } else if v.start < addr && addr < v.end {
                Some((None, Some(v)))
            } else {
                None
            }
        });
        match hinted {
            Some(r) => {
                debug_assert!({
                    let s = self.search_ending_at_and_next(addr);
                    let same = |a: Option<&Vma>, b: Option<&Vma>| match (a, b) {
                        (Some(a), Some(b)) => core::ptr::eq(a, b),
                        (a, b) => a.is_none() && b.is_none(),
                    };
                    same(r.0, s.0) && same(r.1, s.1)
                });
                r
            }
            None => self.search_ending_at_and_next(addr),
        }
    }

    /// `ending_at_and_next` by a search from the root.
    fn search_ending_at_and_next(&self, addr: usize) -> (Option<&Vma>, Option<&Vma>) {
        match self.locate(addr) {
            (Some(v), _) if v.end > addr => (None, Some(v)),
            (below, above) => (below.filter(|v| v.end == addr), above),
        }
    }

    /// The last VMA starting below `addr` and the first starting at or above it (Linux's
    /// `vma_prev` and `vma_next` around a position), in one search.
    pub fn prev_next(&self, addr: usize) -> (Option<&Vma>, Option<&Vma>) {
        self.locate(addr)
    }

    /// The VMA just below the one starting at `start` (Linux `vma_prev`).
    pub fn prev_vma(&self, start: usize) -> Option<&Vma> {
        self.locate(start).0
    }

    /// VMAs overlapping `[start, end)` in address order.
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = &Vma> {
        let cursor = match self.find_vma(start) {
            Some(v) if v.start < end => Cursor::seek(&self.root, v.start),
            _ => Cursor::empty(&self.root),
        };
        cursor.take_while(move |v| v.start < end)
    }

    /// The VMA starting at `start`.
    pub fn get(&self, start: usize) -> Option<&Vma> {
        self.locate(start).1.filter(|v| v.start == start)
    }

    /// Mutable access to the VMA starting at `start`; its `start` must not be changed through it
    /// (use [`VmaTree::remove`] + [`VmaTree::insert`]).
    /// The VMA becomes the hint.
    pub fn get_mut(&mut self, start: usize) -> Option<&mut Vma> {
        self.seq += 1;
        if let Some(p) = self.hint {
            // SAFETY: see `hinted`; the hint was taken from a unique borrow of the value and
            // `&mut self` makes this the only access.
            if unsafe { (*p.as_ptr()).start } == start {
                debug_assert!(self
                    .get(start)
                    .is_some_and(|w| core::ptr::eq(w, p.as_ptr())));
                // SAFETY: as above.
                return Some(unsafe { &mut *p.as_ptr() });
            }
        }
        let v = self.containing_mut(start).filter(|v| v.start == start)?;
        let p = NonNull::from(v);
        self.hint = Some(p);
        self.hint_next = None;
        // SAFETY: `p` was just made from a unique borrow of the value.
        Some(unsafe { &mut *p.as_ptr() })
    }

    pub fn insert(&mut self, vma: Vma) {
        self.seq += 1;
        self.hint = None;
        self.hint_next = None;
        self.len += 1;
        if let Some(right) = self.root.insert(vma) {
            let left = core::mem::replace(&mut self.root, Node::leaf(Vec::new()));
            let mut children = node_vec();
            children.push(Child {
                min: left.min(),
                node: left,
            });
            children.push(right);
            self.root = Node::inner(children);
        }
    }

    pub fn remove(&mut self, start: usize) -> Option<Vma> {
        self.remove_with(start, |vma| vma)
    }

    /// [`remove`](Self::remove), handing the VMA to `f` in the leaf it leaves: a caller that
    /// keeps only part of it saves the moves of the whole (48 bytes each) up the tree's calls.
    #[inline]
    pub fn remove_with<R>(&mut self, start: usize, f: impl FnOnce(Vma) -> R) -> Option<R> {
        self.seq += 1;
        self.hint = None;
        self.hint_next = None;
        let r = self.root.remove(start, f)?;
        self.len -= 1;
        // A root with one child gives way to it; one with none (its last leaf emptied) to an
        // empty leaf.
        while let KindMut::Inner(children) = self.root.get_mut() {
            match children.len() {
                0 => self.root = Node::leaf(Vec::new()),
                1 => self.root = children.pop().expect("one child").node,
                _ => break,
            }
        }
        Some(r)
    }

    pub fn clear(&mut self) {
        self.seq += 1;
        self.hint = None;
        self.hint_next = None;
        self.len = 0;
        self.root = Node::leaf(Vec::new());
    }

    /// Checks the tree's shape: every leaf at one depth, no node but the root empty or over
    /// its capacity, each child's `min` its subtree's least start, starts increasing, and `len` their
    /// number. For `validate_mm` and tests.
    pub fn check(&self) -> Result<(), alloc::string::String> {
        fn walk(
            n: &Node,
            depth: usize,
            leaf_depth: &mut Option<usize>,
            starts: &mut Vec<usize>,
        ) -> Result<(), alloc::string::String> {
            if n.len() > CAP {
                return Err(alloc::format!("a node of {} entries", n.len()));
            }
            if !n.vmas.is_empty() && !n.children.is_empty() {
                return Err("a node with both VMAs and children".into());
            }
            match n.get() {
                Kind::Leaf(v) => {
                    if *leaf_depth.get_or_insert(depth) != depth {
                        return Err("leaves at different depths".into());
                    }
                    starts.extend(v.iter().map(|v| v.start));
                }
                Kind::Inner(c) => {
                    if depth >= MAX_DEPTH {
                        return Err("too deep".into());
                    }
                    for c in c {
                        if c.node.len() == 0 {
                            return Err("an empty node".into());
                        }
                        if c.min != c.node.min() {
                            return Err(alloc::format!(
                                "min {:#x} of a subtree from {:#x}",
                                c.min,
                                c.node.min()
                            ));
                        }
                        walk(&c.node, depth + 1, leaf_depth, starts)?;
                    }
                }
            }
            Ok(())
        }
        let mut starts = Vec::new();
        walk(&self.root, 0, &mut None, &mut starts)?;
        if let Kind::Inner(c) = self.root.get() {
            if c.len() < 2 {
                return Err("an inner root with one child".into());
            }
        }
        if starts.len() != self.len || starts.windows(2).any(|w| w[0] >= w[1]) {
            return Err(alloc::format!(
                "{} VMAs, out of order or not {}",
                starts.len(),
                self.len
            ));
        }
        Ok(())
    }
}

/// A position among the leaves: a leaf and an index into it. Going forward, `pos` is the next
/// VMA to yield; going backward, one past it. The next leaf over is found by a descent from
/// the root, once per leaf, so that a cursor is three words: most address spaces fit in one
/// leaf, and the search for a free range makes a cursor at every mmap.
#[derive(Clone)]
struct Cursor<'a> {
    root: &'a Node,
    leaf: &'a [Vma],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn empty(root: &'a Node) -> Self {
        Cursor {
            root,
            leaf: &[],
            pos: 0,
        }
    }

    /// The first leaf below `node`.
    fn leftmost_leaf(mut node: &'a Node) -> &'a [Vma] {
        loop {
            match node.get() {
                Kind::Leaf(vmas) => return vmas,
                Kind::Inner(children) => node = &children[0].node,
            }
        }
    }

    fn first(root: &'a Node) -> Self {
        Cursor {
            root,
            leaf: Self::leftmost_leaf(root),
            pos: 0,
        }
    }

    fn last(root: &'a Node) -> Self {
        let mut node = root;
        loop {
            match node.get() {
                Kind::Leaf(vmas) => {
                    return Cursor {
                        root,
                        leaf: vmas,
                        pos: vmas.len(),
                    }
                }
                Kind::Inner(children) => node = &children[children.len() - 1].node,
            }
        }
    }

    /// Stands before the first VMA starting at or above `key`.
    fn seek(root: &'a Node, key: usize) -> Self {
        let leaf = Self::leaf_below(root, key);
        Cursor {
            root,
            leaf,
            pos: leaf.partition_point(|v| v.start < key),
        }
    }

    /// The leaf a descent for the last VMA starting below `key` reaches (see
    /// [`VmaTree::locate`]): the one holding that VMA, or the first leaf when none does.
    fn leaf_below(root: &'a Node, key: usize) -> &'a [Vma] {
        let mut node = root;
        loop {
            match node.get() {
                Kind::Leaf(vmas) => return vmas,
                Kind::Inner(children) => node = &children[child_index(children, key, true)].node,
            }
        }
    }

    /// The leaf after the one whose last VMA starts at `last`.
    fn leaf_after(&self, last: usize) -> Option<&'a [Vma]> {
        let mut right = None;
        let mut node = self.root;
        while let Kind::Inner(children) = node.get() {
            let i = child_index(children, last, false);
            if i + 1 < children.len() {
                right = Some(&children[i + 1].node);
            }
            node = &children[i].node;
        }
        right.map(Self::leftmost_leaf)
    }

    fn next_back(&mut self) -> Option<&'a Vma> {
        while self.pos == 0 {
            // The leaf before holds the last VMA starting below this leaf's first.
            let first = self.leaf.first()?.start;
            let leaf = Self::leaf_below(self.root, first);
            if leaf.first()?.start >= first {
                return None;
            }
            self.leaf = leaf;
            self.pos = leaf.len();
        }
        self.pos -= 1;
        Some(&self.leaf[self.pos])
    }
}

impl<'a> Iterator for Cursor<'a> {
    type Item = &'a Vma;

    fn next(&mut self) -> Option<&'a Vma> {
        while self.pos == self.leaf.len() {
            self.leaf = self.leaf_after(self.leaf.last()?.start)?;
            self.pos = 0;
        }
        self.pos += 1;
        Some(&self.leaf[self.pos - 1])
    }
}

/// The VMAs in address order, from either end; the count left keeps the two ends' cursors
/// from passing each other.
pub struct Iter<'a> {
    front: Cursor<'a>,
    back: Cursor<'a>,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Vma;

    fn next(&mut self) -> Option<&'a Vma> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        self.front.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        self.back.next_back()
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vma::{VM_READ, VM_WRITE};
    use alloc::collections::BTreeMap;

    fn tree(ranges: &[(usize, usize)]) -> VmaTree {
        let mut t = VmaTree::new();
        for &(s, e) in ranges {
            t.insert(Vma::new_anon(
                s * PAGE_SIZE,
                e * PAGE_SIZE,
                VM_READ | VM_WRITE,
            ));
        }
        t
    }

    #[test]
    fn find_vma_returns_containing_or_next() {
        let t = tree(&[(10, 20), (30, 40)]);
        let p = PAGE_SIZE;
        assert_eq!(t.find_vma(0).unwrap().start, 10 * p);
        assert_eq!(t.find_vma(15 * p).unwrap().start, 10 * p);
        assert_eq!(t.find_vma(20 * p).unwrap().start, 30 * p);
        assert_eq!(t.find_vma(20 * p - 1).unwrap().start, 10 * p);
        assert!(t.find_vma(40 * p).is_none());
    }

    #[test]
    fn find_vma_prev_and_intersection() {
        let mut t = tree(&[(10, 20), (30, 40)]);
        let p = PAGE_SIZE;
        let (v, prev) = t.find_vma_prev(25 * p);
        assert_eq!((v.unwrap().start, prev.unwrap().start), (30 * p, 10 * p));
        let (v, prev) = t.find_vma_prev(35 * p);
        assert_eq!((v.unwrap().start, prev.unwrap().start), (30 * p, 10 * p));
        let (v, prev) = t.find_vma_prev(50 * p);
        assert!(v.is_none());
        assert_eq!(prev.unwrap().start, 30 * p);
        assert!(t.find_vma_intersection(20 * p, 30 * p).is_none());
        assert_eq!(
            t.find_vma_intersection(20 * p, 31 * p).unwrap().start,
            30 * p
        );
        assert_eq!(t.range(15 * p, 35 * p).count(), 2);
        assert_eq!(t.vma_ending_at(20 * p).unwrap().start, 10 * p);
        assert!(t.vma_ending_at(19 * p).is_none());
        for a in [0, 5, 10, 15, 19, 20, 25, 30, 35, 40, 45] {
            let want = (
                t.vma_ending_at(a * p).map(|v| v.start),
                t.find_vma(a * p).map(|v| v.start),
            );
            let (ending, next) = t.ending_at_and_next(a * p);
            assert_eq!((ending.map(|v| v.start), next.map(|v| v.start)), want);
        }
    }

    /// brk's pattern: the heap is the hint, grows and shrinks through `get_mut`, and its
    /// successor is found once; a VMA put in between is seen.
    #[test]
    fn ending_at_and_next_keeps_the_successor_of_the_hint() {
        let mut t = tree(&[(10, 20), (30, 40)]);
        let p = PAGE_SIZE;
        let starts = |t: &mut VmaTree, a: usize| {
            let (e, n) = t.ending_at_and_next(a * p);
            (e.map(|v| v.start / p), n.map(|v| v.start / p))
        };
        t.get_mut(10 * p).unwrap();
        assert_eq!(starts(&mut t, 20), (Some(10), Some(30)));
        t.get_mut(10 * p).unwrap().end = 25 * p;
        assert_eq!(starts(&mut t, 25), (Some(10), Some(30)));
        t.get_mut(10 * p).unwrap().end = 12 * p;
        assert_eq!(starts(&mut t, 12), (Some(10), Some(30)));
        t.insert(Vma::new_anon(20 * p, 22 * p, VM_READ | VM_WRITE));
        t.get_mut(10 * p).unwrap();
        assert_eq!(starts(&mut t, 12), (Some(10), Some(20)));
        t.get_mut(30 * p).unwrap();
        assert_eq!(starts(&mut t, 40), (Some(30), None));
        t.remove(20 * p);
        t.get_mut(10 * p).unwrap();
        assert_eq!(starts(&mut t, 12), (Some(10), Some(30)));
    }

    #[test]
    fn start_gap_of_stack_saturates() {
        let mut v = Vma::new_anon(PAGE_SIZE, 2 * PAGE_SIZE, VM_GROWSDOWN);
        assert_eq!(vm_start_gap(&v), 0);
        v.start = 1 << 30;
        assert_eq!(vm_start_gap(&v), (1 << 30) - STACK_GUARD_GAP);
        assert_eq!(vm_end_gap(&v), v.end);
    }

    /// A small xorshift generator: the same sequence on every run.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Every answer of the tree against a `BTreeMap` of the same VMAs (start → end), at every
    /// address around each VMA's bounds and at random ones.
    fn agrees(t: &mut VmaTree, model: &BTreeMap<usize, usize>, rng: &mut Rng, slots: usize) {
        t.check().unwrap();
        let p = PAGE_SIZE;
        let want: Vec<(usize, usize)> = model.iter().map(|(&s, &e)| (s, e)).collect();
        let got: Vec<(usize, usize)> = t.iter().map(|v| (v.start, v.end)).collect();
        assert_eq!(got, want);
        let mut back: Vec<(usize, usize)> = t.iter().rev().map(|v| (v.start, v.end)).collect();
        back.reverse();
        assert_eq!(back, want);
        assert_eq!(t.len(), want.len());
        // Both ends at once: they meet without passing.
        let mut it = t.iter();
        let (mut lo, mut hi) = (0, want.len());
        while lo < hi {
            if rng.below(2) == 0 {
                assert_eq!(it.next().map(|v| v.start), Some(want[lo].0));
                lo += 1;
            } else {
                hi -= 1;
                assert_eq!(it.next_back().map(|v| v.start), Some(want[hi].0));
            }
        }
        assert!(it.next().is_none() && it.next_back().is_none());
        // Around the bounds of up to 30 VMAs, and at random addresses.
        let mut addrs: Vec<usize> = (0..want.len().min(30))
            .map(|_| want[rng.below(want.len())])
            .flat_map(|(s, e)| [s.saturating_sub(p), s, s + p / 2, e - p, e, e + p])
            .collect();
        addrs.extend((0..20).map(|_| rng.below(slots + 2) * p));
        for a in addrs {
            let find = match model.range(..=a).next_back() {
                Some((&s, &e)) if e > a => Some(s),
                _ => model.range(a + 1..).next().map(|(&s, _)| s),
            };
            assert_eq!(t.find_vma(a).map(|v| v.start), find, "find_vma({a:#x})");
            let before = model.range(..a).next_back().map(|(&s, _)| s);
            let prev = match find {
                Some(s) => model.range(..s).next_back().map(|(&s, _)| s),
                None => model.keys().next_back().copied(),
            };
            let (v, pv) = t.find_vma_prev(a);
            assert_eq!((v.map(|v| v.start), pv.map(|v| v.start)), (find, prev));
            let ending = before.filter(|s| model[s] == a);
            assert_eq!(t.vma_ending_at(a).map(|v| v.start), ending);
            assert_eq!(t.prev_vma(a).map(|v| v.start), before);
            assert_eq!(t.get(a).map(|v| v.end), model.get(&a).copied());
            let (e, n) = t.ending_at_and_next(a);
            assert_eq!((e.map(|v| v.start), n.map(|v| v.start)), (ending, find));
            let end = a + rng.below(8) * p;
            let range: Vec<usize> = model
                .iter()
                .filter(|(&s, &e)| e > a && s < end)
                .map(|(&s, _)| s)
                .collect();
            assert_eq!(t.range(a, end).map(|v| v.start).collect::<Vec<_>>(), range);
            let hinted = t.find_vma_hinted(a).map(|v| v.start);
            assert_eq!(hinted, find);
        }
    }

    /// Random inserts and removes, enough for a tree three levels deep and back down to
    /// nothing, checked after each step against a `BTreeMap`.
    #[test]
    fn agrees_with_a_btreemap_through_growth_and_shrinking() {
        let p = PAGE_SIZE;
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for slots in [40usize, 3000] {
            let mut t = VmaTree::new();
            let mut model = BTreeMap::new();
            // Each VMA takes slot `k` (one or two pages at `k * 4`), so any set is disjoint.
            for step in 0..6 * slots {
                let k = rng.below(slots);
                let s = (k * 4 + 1) * p;
                let grow = step < 3 * slots;
                let present = model.contains_key(&s);
                if present {
                    if rng.below(3) != 0 || !grow {
                        assert_eq!(t.remove(s).map(|v| v.start), Some(s));
                        model.remove(&s);
                    }
                } else if grow || rng.below(4) == 0 {
                    let e = s + (1 + rng.below(2)) * p;
                    t.insert(Vma::new_anon(s, e, VM_READ | VM_WRITE));
                    model.insert(s, e);
                } else {
                    assert!(t.remove(s).is_none());
                }
                if step % (slots / 20) == 0 || model.len() < 40 {
                    agrees(&mut t, &model, &mut rng, 4 * slots);
                }
            }
            let starts: Vec<usize> = model.keys().copied().collect();
            for s in starts {
                t.remove(s).unwrap();
                model.remove(&s);
                t.check().unwrap();
            }
            agrees(&mut t, &model, &mut rng, 4 * slots);
            assert!(t.is_empty());
        }
    }

    /// Inserting in increasing and in decreasing order (mmap's top-down placement) builds a tree
    /// of logarithmic height whose clone answers alike.
    #[test]
    fn ordered_inserts_stay_shallow() {
        let p = PAGE_SIZE;
        for down in [false, true] {
            let mut t = VmaTree::new();
            for i in 0..20_000usize {
                let k = if down { 20_000 - i } else { i };
                t.insert(Vma::new_anon(2 * k * p, (2 * k + 1) * p, VM_READ));
            }
            t.check().unwrap();
            let mut depth = 0;
            let mut n = &t.root;
            while let Kind::Inner(c) = n.get() {
                depth += 1;
                n = &c[0].node;
            }
            assert!(depth <= 5, "depth {depth}");
            let c = t.clone();
            c.check().unwrap();
            assert!(c.iter().eq(t.iter()));
            assert_eq!(c.find_vma(4001 * p).unwrap().start, 4002 * p);
        }
    }
}

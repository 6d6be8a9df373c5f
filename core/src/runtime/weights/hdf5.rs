//! A small HDF5 reader for what Keras (through h5py's defaults) writes: superblock version 0
//! or 1, version-1 object headers, groups as symbol tables (v1 B-tree + local heap) or as
//! compact link messages, and datasets stored contiguous or compact, without filters.
//!
//! It is deliberately narrow. Anything else is a typed [`Error::WeightFile`]:
//! `Unsupported` for valid HDF5 it does not implement (chunked or filtered datasets, version-2
//! object headers, dense link storage, shared messages), and `Unsafe` for what Keras' own
//! loader refuses: soft and external links, external-file and virtual datasets. Every read is
//! bounds-checked, cycles and deep nesting are refused, and no size read from the file is
//! trusted for an allocation before it is checked against the file's length.

use std::collections::HashSet;

use crate::runtime::error::{FileFormat, FileProblem};
use crate::runtime::Error;

const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
/// Groups nested deeper than this are refused (Keras nests three or four levels).
const MAX_DEPTH: usize = 64;
/// Object header messages read at most per object, continuation blocks included.
const MAX_MESSAGES: usize = 4096;

fn err(problem: FileProblem, message: impl Into<String>) -> Error {
    Error::file(FileFormat::Hdf5, problem, message)
}

/// A dataset of an HDF5 file. Its data is borrowed from the file, never copied: many
/// datasets pointing at one large block then cost nothing (a copy each would let a small
/// crafted file demand any amount of memory).
#[derive(Clone, Debug, PartialEq)]
pub struct Hdf5Dataset<'a> {
    /// Its path from the root, without a leading slash (`layers/dense/vars/0`).
    pub path: String,
    /// Its dimensions.
    pub shape: Vec<usize>,
    /// Its element type, by numpy's name (`float32`, `float64`, `int32`, ...).
    pub dtype: String,
    /// The raw values, little-endian, in row-major order.
    pub data: &'a [u8],
}

impl Hdf5Dataset<'_> {
    /// The values as `f32`, if the dataset is `float32`.
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        (self.dtype == "float32").then(|| {
            self.data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
    }
}

/// An HDF5 file in memory, checked as it is walked.
#[derive(Debug)]
pub struct Hdf5File<'a> {
    data: &'a [u8],
    base: u64,
    offset_size: usize,
    length_size: usize,
    root: u64,
}

/// A bounds-checked little-endian reader over a slice of the file.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.data.len());
        let Some(end) = end else {
            return Err(err(
                FileProblem::Truncated,
                format!("{} ends before {} more bytes at {}", self.what, n, self.pos),
            ));
        };
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.bytes(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Error> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, Error> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// An unsigned integer of `size` bytes (offsets and lengths are 2, 4 or 8 bytes).
    fn uint(&mut self, size: usize) -> Result<u64, Error> {
        let b = self.bytes(size)?;
        let mut v = 0u64;
        for (i, byte) in b.iter().enumerate().take(8) {
            v |= u64::from(*byte) << (8 * i);
        }
        Ok(v)
    }
    fn skip(&mut self, n: usize) -> Result<(), Error> {
        self.bytes(n).map(|_| ())
    }
}

/// One object header message: its type, flags and body.
struct Message<'a> {
    kind: u16,
    flags: u8,
    body: &'a [u8],
}

/// What a group's child is, by the messages of its object header.
enum Object<'a> {
    Group(Vec<Message<'a>>),
    Dataset(Vec<Message<'a>>),
}

impl<'a> Hdf5File<'a> {
    /// Parses the superblock of `data`.
    pub fn parse(data: &'a [u8]) -> Result<Hdf5File<'a>, Error> {
        let mut c = Cursor {
            data,
            pos: 0,
            what: "the superblock",
        };
        if c.bytes(8)? != SIGNATURE {
            return Err(err(
                FileProblem::Malformed,
                "no HDF5 signature at the start of the file",
            ));
        }
        let version = c.u8()?;
        if version > 1 {
            return Err(err(
                FileProblem::Unsupported,
                format!("superblock version {version} (written with libver='latest'); versions 0 and 1 are read, as h5py writes by default"),
            ));
        }
        c.skip(4)?; // free-space, root group, reserved, shared header versions
        let offset_size = usize::from(c.u8()?);
        let length_size = usize::from(c.u8()?);
        for (name, size) in [("offsets", offset_size), ("lengths", length_size)] {
            if !matches!(size, 2 | 4 | 8) {
                return Err(err(
                    FileProblem::Malformed,
                    format!("size of {name} is {size}; HDF5 allows 2, 4 or 8"),
                ));
            }
        }
        c.skip(1 + 2 + 2 + 4)?; // reserved, group leaf/internal K, consistency flags
        if version == 1 {
            c.skip(4)?; // indexed storage K, reserved
        }
        let base = c.uint(offset_size)?;
        c.skip(offset_size * 3)?; // free space, end of file, driver info addresses
                                  // The root group's symbol table entry: name offset, then its object header.
        c.skip(offset_size)?;
        let root = c.uint(offset_size)?;
        let file = Hdf5File {
            data,
            base,
            offset_size,
            length_size,
            root,
        };
        Ok(file)
    }

    fn undefined(&self, addr: u64) -> bool {
        let bits = 8 * self.offset_size as u32;
        addr == u64::MAX >> (64 - bits)
    }

    /// A cursor at file address `addr` (relative to the base address).
    fn at(&self, addr: u64, what: &'static str) -> Result<Cursor<'a>, Error> {
        let pos = addr
            .checked_add(self.base)
            .filter(|p| *p < self.data.len() as u64)
            .ok_or_else(|| {
                err(
                    FileProblem::OutOfBounds,
                    format!(
                        "{what} at address {addr} is past the end of the file ({} bytes)",
                        self.data.len()
                    ),
                )
            })?;
        Ok(Cursor {
            data: self.data,
            pos: pos as usize,
            what,
        })
    }

    /// `len` bytes at `addr`, all inside the file.
    fn slice(&self, addr: u64, len: u64, what: &'static str) -> Result<&'a [u8], Error> {
        let start = addr.checked_add(self.base);
        let end = start.and_then(|s| s.checked_add(len));
        match (start, end) {
            (Some(s), Some(e)) if e <= self.data.len() as u64 => Ok(&self.data[s as usize..e as usize]),
            _ => Err(err(
                FileProblem::OutOfBounds,
                format!(
                    "{what} of {len} bytes at address {addr} runs past the end of the file ({} bytes)",
                    self.data.len()
                ),
            )),
        }
    }

    /// Every dataset of the file, depth first, in the order the groups list them (by name).
    pub fn datasets(&self) -> Result<Vec<Hdf5Dataset<'a>>, Error> {
        let mut out = Vec::new();
        let mut visited = HashSet::from([self.root]);
        let messages = self.object_header(self.root)?;
        self.walk_group(&messages, "", 0, &mut visited, &mut out)?;
        Ok(out)
    }

    /// Reads the messages of the version-1 object header at `addr`, following continuations.
    fn object_header(&self, addr: u64) -> Result<Vec<Message<'a>>, Error> {
        let mut c = self.at(addr, "an object header")?;
        let version = c.u8()?;
        if version != 1 {
            let sig = self.slice(addr, 4, "an object header")?;
            let what = if sig == b"OHDR" {
                "a version-2 object header (libver='latest')".to_string()
            } else {
                format!("an object header of version {version}")
            };
            return Err(err(
                FileProblem::Unsupported,
                format!("{what} at address {addr}"),
            ));
        }
        c.skip(1)?;
        let count = usize::from(c.u16()?);
        c.skip(4)?; // reference count
        let size = u64::from(c.u32()?);
        c.skip(4)?; // alignment of the first message to 8 bytes
        let first = (c.pos as u64).checked_sub(self.base).ok_or_else(|| {
            err(
                FileProblem::Malformed,
                "object header before the base address",
            )
        })?;
        let mut blocks = vec![(first, size)];
        let mut seen_blocks = HashSet::new();
        let mut messages = Vec::new();
        while let Some((start, len)) = blocks.pop() {
            if !seen_blocks.insert(start) {
                return Err(err(
                    FileProblem::Malformed,
                    format!("object header continuation at {start} loops"),
                ));
            }
            let block = self.slice(start, len, "an object header block")?;
            let mut b = Cursor {
                data: block,
                pos: 0,
                what: "an object header message",
            };
            while b.pos + 8 <= block.len() && messages.len() < count {
                let kind = b.u16()?;
                let body_len = usize::from(b.u16()?);
                let flags = b.u8()?;
                b.skip(3)?;
                let body = b.bytes(body_len)?;
                if kind == 0x10 {
                    // Continuation: the header goes on in another block.
                    let mut m = Cursor {
                        data: body,
                        pos: 0,
                        what: "a continuation message",
                    };
                    let at = m.uint(self.offset_size)?;
                    let len = m.uint(self.length_size)?;
                    blocks.push((at, len));
                }
                messages.push(Message { kind, flags, body });
                if messages.len() > MAX_MESSAGES {
                    return Err(err(
                        FileProblem::TooLarge,
                        format!("object header at {addr} has more than {MAX_MESSAGES} messages"),
                    ));
                }
            }
        }
        Ok(messages)
    }

    fn classify(&self, addr: u64, path: &str) -> Result<Object<'a>, Error> {
        let messages = self.object_header(addr)?;
        let has = |k: u16| messages.iter().any(|m| m.kind == k);
        if has(0x11) || has(0x02) || has(0x06) {
            Ok(Object::Group(messages))
        } else if has(0x08) {
            Ok(Object::Dataset(messages))
        } else {
            Err(err(
                FileProblem::Unsupported,
                format!("object '{path}' is neither a group nor a dataset (a committed datatype?)"),
            ))
        }
    }

    fn walk_group(
        &self,
        messages: &[Message<'a>],
        path: &str,
        depth: usize,
        visited: &mut HashSet<u64>,
        out: &mut Vec<Hdf5Dataset<'a>>,
    ) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(err(
                FileProblem::TooLarge,
                format!("groups nested deeper than {MAX_DEPTH} at '{path}'"),
            ));
        }
        let mut children = self.group_children(messages, path)?;
        children.sort();
        for (name, addr) in children {
            let child_path = if path.is_empty() {
                name
            } else {
                format!("{path}/{name}")
            };
            // A hard link to an object already visited would make a cycle (or read the
            // same data twice under two names).
            if !visited.insert(addr) {
                return Err(err(
                    FileProblem::Malformed,
                    format!("'{child_path}' links to an object already visited (a cycle or a second hard link)"),
                ));
            }
            match self.classify(addr, &child_path)? {
                Object::Group(m) => self.walk_group(&m, &child_path, depth + 1, visited, out)?,
                Object::Dataset(m) => out.push(self.dataset(&m, child_path)?),
            }
        }
        Ok(())
    }

    /// The (name, object header address) of a group's members.
    fn group_children(
        &self,
        messages: &[Message<'a>],
        path: &str,
    ) -> Result<Vec<(String, u64)>, Error> {
        let mut children = Vec::new();
        for m in messages {
            match m.kind {
                0x11 => {
                    let mut c = Cursor {
                        data: m.body,
                        pos: 0,
                        what: "a symbol table message",
                    };
                    let btree = c.uint(self.offset_size)?;
                    let heap = c.uint(self.offset_size)?;
                    let heap = self.local_heap(heap)?;
                    let mut seen = HashSet::new();
                    self.btree_group(btree, heap, 0, &mut seen, path, &mut children)?;
                }
                0x02 => {
                    let mut c = Cursor {
                        data: m.body,
                        pos: 0,
                        what: "a link info message",
                    };
                    c.skip(1)?;
                    let flags = c.u8()?;
                    if flags & 1 != 0 {
                        c.skip(8)?;
                    }
                    let heap = c.uint(self.offset_size)?;
                    if !self.undefined(heap) {
                        return Err(err(
                            FileProblem::Unsupported,
                            format!("group '{path}' stores its links densely (a fractal heap)"),
                        ));
                    }
                }
                0x06 => {
                    if let Some(child) = self.link(m.body, path)? {
                        children.push(child);
                    }
                }
                _ => {}
            }
        }
        Ok(children)
    }

    /// A link message: a hard link's (name, address); soft and external links are refused.
    fn link(&self, body: &'a [u8], path: &str) -> Result<Option<(String, u64)>, Error> {
        let mut c = Cursor {
            data: body,
            pos: 0,
            what: "a link message",
        };
        let version = c.u8()?;
        if version != 1 {
            return Err(err(
                FileProblem::Unsupported,
                format!("link message version {version} in '{path}'"),
            ));
        }
        let flags = c.u8()?;
        let kind = if flags & 0x08 != 0 { c.u8()? } else { 0 };
        if flags & 0x04 != 0 {
            c.skip(8)?;
        }
        if flags & 0x10 != 0 {
            c.skip(1)?;
        }
        let name_len = c.uint(1 << (flags & 3))?;
        let name_len = usize::try_from(name_len)
            .map_err(|_| err(FileProblem::TooLarge, "link name length"))?;
        let name = String::from_utf8_lossy(c.bytes(name_len)?).into_owned();
        match kind {
            0 => Ok(Some((name, c.uint(self.offset_size)?))),
            1 => Err(err(
                FileProblem::Unsafe,
                format!("'{path}/{name}' is a soft link; Keras refuses links in weights files"),
            )),
            64 => Err(err(
                FileProblem::Unsafe,
                format!("'{path}/{name}' is an external link to another file; Keras refuses links in weights files"),
            )),
            k => Err(err(
                FileProblem::Unsupported,
                format!("'{path}/{name}' is a link of type {k}"),
            )),
        }
    }

    /// A local heap's data segment.
    fn local_heap(&self, addr: u64) -> Result<&'a [u8], Error> {
        let mut c = self.at(addr, "a local heap")?;
        if c.bytes(4)? != b"HEAP" {
            return Err(err(
                FileProblem::Malformed,
                format!("no local heap signature at {addr}"),
            ));
        }
        c.skip(4)?; // version, reserved
        let size = c.uint(self.length_size)?;
        c.skip(self.length_size)?; // free list
        let data = c.uint(self.offset_size)?;
        self.slice(data, size, "a local heap's data")
    }

    /// Walks a v1 B-tree of group nodes, collecting the symbol table entries of its leaves.
    fn btree_group(
        &self,
        addr: u64,
        heap: &'a [u8],
        depth: usize,
        seen: &mut HashSet<u64>,
        path: &str,
        out: &mut Vec<(String, u64)>,
    ) -> Result<(), Error> {
        if depth > MAX_DEPTH || !seen.insert(addr) {
            return Err(err(
                FileProblem::Malformed,
                format!("the B-tree of group '{path}' loops or is too deep"),
            ));
        }
        let mut c = self.at(addr, "a B-tree node")?;
        if c.bytes(4)? != b"TREE" {
            return Err(err(
                FileProblem::Malformed,
                format!("no B-tree signature at {addr} (group '{path}')"),
            ));
        }
        let node_type = c.u8()?;
        if node_type != 0 {
            return Err(err(
                FileProblem::Malformed,
                format!("B-tree node of type {node_type} in group '{path}'"),
            ));
        }
        let level = c.u8()?;
        let entries = c.u16()?;
        c.skip(2 * self.offset_size)?; // siblings
        for _ in 0..entries {
            c.skip(self.length_size)?; // key
            let child = c.uint(self.offset_size)?;
            if level > 0 {
                self.btree_group(child, heap, depth + 1, seen, path, out)?;
            } else {
                // A leaf listed twice would list its members twice (and a crafted tree
                // could multiply a node's entries by its fan-out).
                if !seen.insert(child) {
                    return Err(err(
                        FileProblem::Malformed,
                        format!("the B-tree of group '{path}' lists a node twice"),
                    ));
                }
                self.symbol_node(child, heap, path, out)?;
            }
        }
        Ok(())
    }

    /// A symbol table node: its entries, names from the local heap.
    fn symbol_node(
        &self,
        addr: u64,
        heap: &'a [u8],
        path: &str,
        out: &mut Vec<(String, u64)>,
    ) -> Result<(), Error> {
        let mut c = self.at(addr, "a symbol table node")?;
        if c.bytes(4)? != b"SNOD" {
            return Err(err(
                FileProblem::Malformed,
                format!("no symbol table node signature at {addr} (group '{path}')"),
            ));
        }
        c.skip(2)?;
        let count = c.u16()?;
        for _ in 0..count {
            let name_offset = c.uint(self.offset_size)?;
            let header = c.uint(self.offset_size)?;
            let cache = c.u32()?;
            c.skip(4 + 16)?;
            let name = heap_string(heap, name_offset).ok_or_else(|| {
                err(
                    FileProblem::OutOfBounds,
                    format!("a member name of group '{path}' lies outside its heap"),
                )
            })?;
            if cache == 2 {
                return Err(err(
                    FileProblem::Unsafe,
                    format!("'{path}/{name}' is a soft link; Keras refuses links in weights files"),
                ));
            }
            out.push((name, header));
        }
        Ok(())
    }

    fn dataset(&self, messages: &[Message<'a>], path: String) -> Result<Hdf5Dataset<'a>, Error> {
        let mut shape = None;
        let mut dtype = None;
        let mut layout = None;
        for m in messages {
            if m.flags & 0x02 != 0 && matches!(m.kind, 0x01 | 0x03 | 0x08) {
                return Err(err(
                    FileProblem::Unsupported,
                    format!("dataset '{path}' uses a shared message (type {})", m.kind),
                ));
            }
            match m.kind {
                0x01 => shape = Some(self.dataspace(m.body, &path)?),
                0x03 => dtype = Some(datatype(m.body, &path)?),
                0x07 => {
                    return Err(err(
                        FileProblem::Unsafe,
                        format!("dataset '{path}' keeps its data in external files"),
                    ))
                }
                0x08 => layout = Some(m.body),
                0x0B => {
                    return Err(err(
                        FileProblem::Unsupported,
                        format!(
                        "dataset '{path}' is filtered (compressed); Keras writes plain datasets"
                    ),
                    ))
                }
                _ => {}
            }
        }
        let (Some(shape), Some((dtype, elem)), Some(layout)) = (shape, dtype, layout) else {
            return Err(err(
                FileProblem::Malformed,
                format!("dataset '{path}' lacks a dataspace, datatype or layout"),
            ));
        };
        let bytes = shape
            .iter()
            .try_fold(elem, |acc: usize, d| acc.checked_mul(*d))
            .filter(|b| *b as u64 <= self.data.len() as u64)
            .ok_or_else(|| {
                err(
                    FileProblem::TooLarge,
                    format!("dataset '{path}' of shape {shape:?} is larger than the file"),
                )
            })?;
        let data = self.layout(layout, bytes, &path)?;
        Ok(Hdf5Dataset {
            path,
            shape,
            dtype,
            data,
        })
    }

    fn dataspace(&self, body: &[u8], path: &str) -> Result<Vec<usize>, Error> {
        let mut c = Cursor {
            data: body,
            pos: 0,
            what: "a dataspace message",
        };
        let version = c.u8()?;
        let rank = usize::from(c.u8()?);
        let _flags = c.u8()?;
        match version {
            1 => c.skip(5)?,
            2 => {
                let kind = c.u8()?;
                if kind == 2 {
                    return Err(err(
                        FileProblem::Unsupported,
                        format!("dataset '{path}' has a null dataspace"),
                    ));
                }
            }
            v => {
                return Err(err(
                    FileProblem::Unsupported,
                    format!("dataspace version {v} in '{path}'"),
                ))
            }
        }
        (0..rank)
            .map(|_| {
                let d = c.uint(self.length_size)?;
                usize::try_from(d)
                    .map_err(|_| err(FileProblem::TooLarge, format!("dimension {d} of '{path}'")))
            })
            .collect()
    }

    fn layout(&self, body: &'a [u8], bytes: usize, path: &str) -> Result<&'a [u8], Error> {
        let mut c = Cursor {
            data: body,
            pos: 0,
            what: "a layout message",
        };
        let version = c.u8()?;
        let class = c.u8()?;
        if version == 4 && class == 3 {
            return Err(err(
                FileProblem::Unsafe,
                format!("dataset '{path}' is virtual (its data comes from other files)"),
            ));
        }
        if version != 3 {
            return Err(err(
                FileProblem::Unsupported,
                format!("layout message version {version} in '{path}'"),
            ));
        }
        let data = match class {
            0 => {
                let size = usize::from(c.u16()?);
                c.bytes(size)?
            }
            1 => {
                let addr = c.uint(self.offset_size)?;
                let size = c.uint(self.length_size)?;
                if self.undefined(addr) {
                    return Err(err(
                        FileProblem::Unsupported,
                        format!("dataset '{path}' was never written (no storage allocated)"),
                    ));
                }
                self.slice(addr, size, "a dataset's data")?
            }
            2 => {
                return Err(err(
                    FileProblem::Unsupported,
                    format!("dataset '{path}' is chunked; Keras writes contiguous datasets"),
                ))
            }
            k => {
                return Err(err(
                    FileProblem::Malformed,
                    format!("layout class {k} in '{path}'"),
                ))
            }
        };
        if data.len() != bytes {
            return Err(err(
                FileProblem::Malformed,
                format!(
                    "dataset '{path}' stores {} bytes, its shape and type need {bytes}",
                    data.len()
                ),
            ));
        }
        Ok(data)
    }
}

/// A NUL-terminated name at `offset` of a heap's data.
fn heap_string(heap: &[u8], offset: u64) -> Option<String> {
    let start = usize::try_from(offset).ok()?;
    let rest = heap.get(start..)?;
    let end = rest.iter().position(|b| *b == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// A datatype message: numpy's name for it and the element size. Only little-endian
/// numbers are described; anything else is `Unsupported`.
fn datatype(body: &[u8], path: &str) -> Result<(String, usize), Error> {
    let mut c = Cursor {
        data: body,
        pos: 0,
        what: "a datatype message",
    };
    let class = c.u8()? & 0x0f;
    let bits = c.u8()?;
    c.skip(2)?;
    let size = c.u32()? as usize;
    let big_endian = bits & 1 != 0;
    let name = match (class, big_endian) {
        (0, false) => {
            let signed = bits & 0x08 != 0;
            format!("{}int{}", if signed { "" } else { "u" }, 8 * size)
        }
        (1, false) => format!("float{}", 8 * size),
        _ => {
            return Err(err(
                FileProblem::Unsupported,
                format!(
                    "dataset '{path}' has a datatype of class {class}{}",
                    if big_endian { ", big-endian" } else { "" }
                ),
            ))
        }
    };
    if !matches!(size, 1 | 2 | 4 | 8) {
        return Err(err(
            FileProblem::Malformed,
            format!("dataset '{path}' has a number type of {size} bytes"),
        ));
    }
    Ok((name, size))
}

//! A small HDF5 writer for the subset Keras reads back: the layout h5py writes by default
//! (superblock version 0, version-1 object headers, groups as symbol tables: a v1 B-tree, a
//! local heap and symbol table nodes), with contiguous little-endian `f32` datasets and no
//! attributes, which Keras' `.weights.h5` does not need. Written by hand rather than with the
//! HDF5 C library: the reader beside it is ours too, and the subset is a few hundred bytes of
//! fixed structures.
//!
//! Offsets and lengths are 8 bytes. Children of a group are written before the group (so their
//! addresses are known), and the superblock is patched last.

use std::collections::BTreeMap;

use crate::runtime::error::{FileFormat, FileProblem};
use crate::runtime::Error;

const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
const UNDEFINED: u64 = u64::MAX;
/// Symbol table leaf K (entries per node: 2K) and B-tree K (children per node: 2K), h5py's.
const LEAF_K: usize = 4;
const TREE_K: usize = 16;
/// One B-tree node of symbol table nodes: the most children one group can have here.
const MAX_CHILDREN: usize = 2 * TREE_K * 2 * LEAF_K;

/// A tree of groups and `f32` datasets, to be written as one HDF5 file.
#[derive(Clone, Debug, Default)]
pub struct Hdf5Tree {
    children: BTreeMap<String, Node>,
}

#[derive(Clone, Debug)]
enum Node {
    Group(Hdf5Tree),
    Dataset { shape: Vec<usize>, data: Values },
}

/// A dataset's values: `f32` weights, or `int64` (Keras' integer variables, e.g. an adapted
/// `Normalization`'s `count`).
#[derive(Clone, Debug)]
enum Values {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::I64(v) => v.len(),
        }
    }
}

fn err(message: impl Into<String>) -> Error {
    Error::file(FileFormat::Hdf5, FileProblem::Malformed, message)
}

impl Hdf5Tree {
    /// An empty tree (the root group).
    pub fn new() -> Self {
        Hdf5Tree::default()
    }

    /// The group at `path` (`layers/dense/vars`), created with its parents if missing.
    pub fn group(&mut self, path: &str) -> Result<&mut Hdf5Tree, Error> {
        let mut at = self;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            let node = at
                .children
                .entry(part.to_string())
                .or_insert_with(|| Node::Group(Hdf5Tree::default()));
            at = match node {
                Node::Group(g) => g,
                Node::Dataset { .. } => {
                    return Err(err(format!("'{path}': '{part}' is a dataset, not a group")))
                }
            };
        }
        Ok(at)
    }

    /// Adds the `float32` dataset `path` of `shape` (row-major `data`), creating its groups.
    pub fn dataset(&mut self, path: &str, shape: &[usize], data: Vec<f32>) -> Result<(), Error> {
        self.insert(path, shape, Values::F32(data))
    }

    /// Adds the `int64` dataset `path` of `shape` (row-major `data`), creating its groups.
    pub fn dataset_i64(
        &mut self,
        path: &str,
        shape: &[usize],
        data: Vec<i64>,
    ) -> Result<(), Error> {
        self.insert(path, shape, Values::I64(data))
    }

    fn insert(&mut self, path: &str, shape: &[usize], data: Values) -> Result<(), Error> {
        let count = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| err(format!("'{path}': the shape {shape:?} overflows")))?;
        if count != data.len() {
            return Err(err(format!(
                "'{path}': {} values for the shape {shape:?}",
                data.len()
            )));
        }
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) => (p, n),
            None => ("", path),
        };
        if name.is_empty() {
            return Err(err(format!("'{path}': a dataset needs a name")));
        }
        let group = self.group(parent)?;
        if group.children.contains_key(name) {
            return Err(err(format!("'{path}' is written twice")));
        }
        group.children.insert(
            name.to_string(),
            Node::Dataset {
                shape: shape.to_vec(),
                data,
            },
        );
        Ok(())
    }

    /// The whole file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut w = Writer { out: vec![0; 96] };
        let (btree, heap) = w.group_storage(self)?;
        let root = w.group_header(btree, heap);
        let eof = w.out.len() as u64;
        let mut sb = Vec::with_capacity(96);
        sb.extend_from_slice(SIGNATURE);
        // Versions (superblock, free space, root symbol table, reserved, shared header),
        // sizes of offsets and lengths, reserved.
        sb.extend_from_slice(&[0, 0, 0, 0, 0, 8, 8, 0]);
        sb.extend_from_slice(&(LEAF_K as u16).to_le_bytes());
        sb.extend_from_slice(&(TREE_K as u16).to_le_bytes());
        sb.extend_from_slice(&0u32.to_le_bytes()); // consistency flags
        for addr in [0, UNDEFINED, eof, UNDEFINED] {
            sb.extend_from_slice(&addr.to_le_bytes());
        }
        symbol_entry(&mut sb, 0, root, Some((btree, heap)));
        w.out[..96].copy_from_slice(&sb);
        Ok(w.out)
    }
}

/// A symbol table entry: name offset in the heap, object header, and for a group the cached
/// addresses of its B-tree and heap (cache type 1), as h5py writes them.
fn symbol_entry(out: &mut Vec<u8>, name: u64, header: u64, group: Option<(u64, u64)>) {
    out.extend_from_slice(&name.to_le_bytes());
    out.extend_from_slice(&header.to_le_bytes());
    out.extend_from_slice(&u32::from(group.is_some()).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    let (a, b) = group.unwrap_or((0, 0));
    out.extend_from_slice(&a.to_le_bytes());
    out.extend_from_slice(&b.to_le_bytes());
}

struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn align(&mut self) {
        while !self.out.len().is_multiple_of(8) {
            self.out.push(0);
        }
    }

    fn here(&mut self) -> u64 {
        self.align();
        self.out.len() as u64
    }

    /// A version-1 object header holding `messages` (type, body), each padded to 8 bytes.
    fn object_header(&mut self, messages: &[(u16, Vec<u8>)]) -> u64 {
        let at = self.here();
        let size: usize = messages
            .iter()
            .map(|(_, b)| 8 + b.len().div_ceil(8) * 8)
            .sum();
        self.out.push(1); // version
        self.out.push(0);
        self.out
            .extend_from_slice(&(messages.len() as u16).to_le_bytes());
        self.out.extend_from_slice(&1u32.to_le_bytes()); // reference count
        self.out.extend_from_slice(&(size as u32).to_le_bytes());
        self.out.extend_from_slice(&[0; 4]); // the header is padded to 16 bytes
        for (kind, body) in messages {
            let padded = body.len().div_ceil(8) * 8;
            self.out.extend_from_slice(&kind.to_le_bytes());
            self.out.extend_from_slice(&(padded as u16).to_le_bytes());
            self.out.extend_from_slice(&[0; 4]); // flags, reserved
            self.out.extend_from_slice(body);
            self.out.resize(self.out.len() + padded - body.len(), 0);
        }
        at
    }

    fn group_header(&mut self, btree: u64, heap: u64) -> u64 {
        let mut body = Vec::with_capacity(16);
        body.extend_from_slice(&btree.to_le_bytes());
        body.extend_from_slice(&heap.to_le_bytes());
        self.object_header(&[(0x0011, body)])
    }

    fn dataset(&mut self, shape: &[usize], data: &Values) -> u64 {
        let raw = self.here();
        let bytes = match data {
            Values::F32(v) => {
                v.iter()
                    .for_each(|v| self.out.extend_from_slice(&v.to_le_bytes()));
                4
            }
            Values::I64(v) => {
                v.iter()
                    .for_each(|v| self.out.extend_from_slice(&v.to_le_bytes()));
                8
            }
        };
        // Dataspace, version 1: rank, no maximum dims.
        let mut space = vec![1, shape.len() as u8, 0, 0, 0, 0, 0, 0];
        for &d in shape {
            space.extend_from_slice(&(d as u64).to_le_bytes());
        }
        let dtype = match data {
            // IEEE little-endian binary32 (class 1, version 1), as numpy's float32.
            Values::F32(_) => {
                let mut dtype = vec![0x11, 0x20, 0x1f, 0x00];
                dtype.extend_from_slice(&4u32.to_le_bytes());
                dtype.extend_from_slice(&0u16.to_le_bytes()); // bit offset
                dtype.extend_from_slice(&32u16.to_le_bytes()); // precision
                dtype.extend_from_slice(&[23, 8, 0, 23]); // exponent at 23, 8 bits; mantissa at 0, 23
                dtype.extend_from_slice(&127u32.to_le_bytes());
                dtype
            }
            // Little-endian signed 64-bit fixed point (class 0, version 1), numpy's int64.
            Values::I64(_) => {
                let mut dtype = vec![0x10, 0x08, 0x00, 0x00];
                dtype.extend_from_slice(&8u32.to_le_bytes());
                dtype.extend_from_slice(&0u16.to_le_bytes()); // bit offset
                dtype.extend_from_slice(&64u16.to_le_bytes()); // precision
                dtype
            }
        };
        // Fill value, version 2: allocated late, written if set, none defined (h5py's).
        let fill = vec![2, 2, 2, 0];
        // Layout, version 3: contiguous at `raw`.
        let mut layout = vec![3, 1];
        layout.extend_from_slice(&raw.to_le_bytes());
        layout.extend_from_slice(&((data.len() * bytes) as u64).to_le_bytes());
        self.object_header(&[
            (0x0001, space),
            (0x0003, dtype),
            (0x0005, fill),
            (0x0008, layout),
        ])
    }

    /// Writes `tree`'s children, then its local heap, symbol table nodes and B-tree node;
    /// returns the B-tree's and the heap's addresses.
    fn group_storage(&mut self, tree: &Hdf5Tree) -> Result<(u64, u64), Error> {
        if tree.children.len() > MAX_CHILDREN {
            return Err(err(format!(
                "a group of {} members: at most {MAX_CHILDREN} are written",
                tree.children.len()
            )));
        }
        // Children first, in name order (the order HDF5 looks names up in).
        let mut entries = Vec::with_capacity(tree.children.len());
        for (name, node) in &tree.children {
            let entry = match node {
                Node::Dataset { shape, data } => (self.dataset(shape, data), None),
                Node::Group(g) => {
                    let (btree, heap) = self.group_storage(g)?;
                    (self.group_header(btree, heap), Some((btree, heap)))
                }
            };
            entries.push((name, entry));
        }
        // The local heap: the empty name at offset 0, then each name, NUL-terminated and
        // padded to 8 bytes.
        let mut names = vec![0u8; 8];
        let mut offsets = Vec::with_capacity(entries.len());
        for (name, _) in &entries {
            offsets.push(names.len() as u64);
            names.extend_from_slice(name.as_bytes());
            names.push(0);
            names.resize(names.len().div_ceil(8) * 8, 0);
        }
        let heap = self.here();
        let data_at = heap + 32;
        self.out.extend_from_slice(b"HEAP");
        self.out.extend_from_slice(&[0; 4]); // version 0, reserved
        self.out
            .extend_from_slice(&(names.len() as u64).to_le_bytes());
        // No free block: libhdf5 writes 1 there (H5HL_FREE_NULL), not the undefined address.
        self.out.extend_from_slice(&1u64.to_le_bytes());
        self.out.extend_from_slice(&data_at.to_le_bytes());
        self.out.extend_from_slice(&names);
        // Symbol table nodes of up to 2K entries each, full size as readers expect.
        let mut nodes = Vec::new();
        for (chunk, names) in entries.chunks(2 * LEAF_K).zip(offsets.chunks(2 * LEAF_K)) {
            let at = self.here();
            let mut node = Vec::with_capacity(8 + 2 * LEAF_K * 40);
            node.extend_from_slice(b"SNOD");
            node.extend_from_slice(&[1, 0]);
            node.extend_from_slice(&(chunk.len() as u16).to_le_bytes());
            for ((_, (header, group)), &name) in chunk.iter().zip(names) {
                symbol_entry(&mut node, name, *header, *group);
            }
            node.resize(8 + 2 * LEAF_K * 40, 0);
            self.out.extend_from_slice(&node);
            // The key after a node: the offset of its last name.
            nodes.push((at, names.last().copied().unwrap_or(0)));
        }
        // One leaf B-tree node over the symbol table nodes, full size.
        let btree = self.here();
        self.out.extend_from_slice(b"TREE");
        self.out.extend_from_slice(&[0, 0]); // group nodes, level 0
        self.out
            .extend_from_slice(&(nodes.len() as u16).to_le_bytes());
        self.out.extend_from_slice(&UNDEFINED.to_le_bytes());
        self.out.extend_from_slice(&UNDEFINED.to_le_bytes());
        self.out.extend_from_slice(&0u64.to_le_bytes()); // key 0: the empty name
        for (child, key) in &nodes {
            self.out.extend_from_slice(&child.to_le_bytes());
            self.out.extend_from_slice(&key.to_le_bytes());
        }
        let full = 24 + (2 * TREE_K + 1) * 8 + 2 * TREE_K * 8;
        self.out.resize(btree as usize + full, 0);
        Ok((btree, heap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::weights::Hdf5File;

    #[test]
    fn the_reader_reads_back_every_dataset_exactly() {
        let mut tree = Hdf5Tree::new();
        let mut want = Vec::new();
        // More members than one symbol table node holds, in a nested group.
        for i in 0..20 {
            let path = format!("layers/dense_{i}/vars/{}", i % 3);
            let data: Vec<f32> = (0..(i + 1) * 2).map(|v| v as f32 * 0.25 - 1.0).collect();
            tree.dataset(&path, &[i + 1, 2], data.clone()).unwrap();
            want.push((path, vec![i + 1, 2], data));
        }
        tree.group("layers/flatten/vars").unwrap();
        tree.dataset("vars/0", &[3], vec![f32::MIN, 0.0, f32::MAX])
            .unwrap();
        want.push(("vars/0".into(), vec![3], vec![f32::MIN, 0.0, f32::MAX]));
        let bytes = tree.to_bytes().unwrap();
        if let Ok(out) = std::env::var("STRATIC_HDF5_DUMP") {
            std::fs::write(out, &bytes).unwrap();
        }
        let file = Hdf5File::parse(&bytes).unwrap();
        let mut got: Vec<_> = file
            .datasets()
            .unwrap()
            .into_iter()
            .map(|d| (d.path.clone(), d.shape.clone(), d.to_f32().unwrap()))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want);
        for d in file.datasets().unwrap() {
            assert_eq!(d.dtype, "float32");
        }
    }

    #[test]
    fn int64_datasets_read_back_as_numpy_int64() {
        // Keras' integer variables (a `Normalization`'s scalar `count`) beside float ones.
        let mut tree = Hdf5Tree::new();
        tree.dataset_i64("layers/normalization/vars/2", &[], vec![-7])
            .unwrap();
        tree.dataset_i64("v/1", &[2], vec![i64::MIN, i64::MAX])
            .unwrap();
        tree.dataset("layers/normalization/vars/0", &[1], vec![0.5])
            .unwrap();
        assert!(tree.dataset_i64("v/2", &[2], vec![1]).is_err());
        let bytes = tree.to_bytes().unwrap();
        let file = Hdf5File::parse(&bytes).unwrap();
        let mut got: Vec<_> = file
            .datasets()
            .unwrap()
            .into_iter()
            .map(|d| {
                (
                    d.path.clone(),
                    d.shape.clone(),
                    d.dtype.clone(),
                    d.data.to_vec(),
                )
            })
            .collect();
        got.sort();
        let bytes_of = |v: &[i64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        assert_eq!(
            got,
            vec![
                (
                    "layers/normalization/vars/0".to_string(),
                    vec![1],
                    "float32".to_string(),
                    0.5f32.to_le_bytes().to_vec()
                ),
                (
                    "layers/normalization/vars/2".to_string(),
                    vec![],
                    "int64".to_string(),
                    bytes_of(&[-7])
                ),
                (
                    "v/1".to_string(),
                    vec![2],
                    "int64".to_string(),
                    bytes_of(&[i64::MIN, i64::MAX])
                ),
            ]
        );
    }

    #[test]
    fn a_dataset_inside_a_dataset_or_with_the_wrong_count_is_refused() {
        let mut tree = Hdf5Tree::new();
        tree.dataset("a/b", &[1], vec![1.0]).unwrap();
        assert!(tree.dataset("a/b/c", &[1], vec![1.0]).is_err());
        assert!(tree.dataset("a/b", &[1], vec![1.0]).is_err());
        assert!(tree.dataset("a/d", &[2, 2], vec![1.0]).is_err());
        assert!(tree.dataset("x", &[usize::MAX, 2], vec![]).is_err());
    }
}

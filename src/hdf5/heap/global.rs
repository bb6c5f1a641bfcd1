//! Global heap collections (signature `GCOL`, spec III.E): the storage of variable-length data
//! (vlen strings and sequences) and region references. A vlen element stored in an attribute
//! or dataset is `length u32, collection address (size of offsets), object index u32`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use crate::hdf5::util::{check_signature, check_sizes, is_undefined, read_rel};
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;
use crate::io::ReadAt;

const WHAT: &str = "global heap collection";

/// A parsed global heap collection: object index → object bytes.
#[derive(Debug, Clone, Default)]
pub(crate) struct GlobalHeapCollection {
    objects: BTreeMap<u16, Bytes>,
    /// Absolute file offset of the collection.
    offset: u64,
}

/// Round up to a multiple of 8 (checked).
fn align8(n: u64) -> Option<u64> {
    n.checked_add(7).map(|v| v & !7)
}

impl GlobalHeapCollection {
    /// Read and parse the collection at relative address `addr`.
    pub(crate) fn read(src: &dyn ReadAt, sizes: Sizes, addr: u64) -> Result<Self, Hdf5Error> {
        let len_w = u64::from(sizes.length);
        let (abs, head) = read_rel(src, sizes, addr, 8 + len_w, WHAT)?;
        check_sizes(sizes, WHAT, abs)?;
        let mut c = Cursor::new(&head, abs, WHAT);
        check_signature(c.bytes(4)?, b"GCOL", WHAT, abs)?;
        let version = c.u8()?;
        if version != 1 {
            return Err(Hdf5Error::corrupt(WHAT, abs, format!("unknown version {version}")));
        }
        c.skip(3)?;
        let size = c.uint(sizes.length.into())?;
        let hdr_size = align8(8 + len_w).unwrap_or(16);
        if size < hdr_size {
            return Err(Hdf5Error::corrupt(
                WHAT,
                abs,
                format!("collection size {size} is smaller than its header"),
            ));
        }
        let (_, data) = read_rel(src, sizes, addr, size, WHAT)?;
        let obj_hdr = 8 + len_w;
        let mut objects = BTreeMap::new();
        let mut pos = hdr_size;
        // Objects follow the header; a remainder too small for an object header is free space.
        while pos.checked_add(obj_hdr).is_some_and(|end| end <= size) {
            let mut c = Cursor::new(&data, abs, WHAT);
            c.seek(usize::try_from(pos).map_err(|_| Hdf5Error::corrupt(WHAT, abs, "position overflow"))?)?;
            let at = c.offset();
            let index = c.u16()?;
            let _refcount = c.u16()?;
            c.skip(4)?;
            let obj_size = c.uint(sizes.length.into())?;
            let need = if index == 0 {
                // Free space: its size includes its own header.
                if obj_size == 0 {
                    break;
                }
                obj_size
            } else {
                let n = usize::try_from(obj_size).map_err(|_| Hdf5Error::corrupt(WHAT, at, "object size overflow"))?;
                let body = c.bytes(n).map_err(|_| {
                    Hdf5Error::corrupt(
                        WHAT,
                        at,
                        format!("object {index} of {obj_size} bytes runs past the collection"),
                    )
                })?;
                if objects.insert(index, data.slice_ref(body)).is_some() {
                    return Err(Hdf5Error::corrupt(WHAT, at, format!("duplicate object index {index}")));
                }
                align8(obj_size)
                    .and_then(|s| s.checked_add(obj_hdr))
                    .ok_or_else(|| Hdf5Error::corrupt(WHAT, at, "object size overflow"))?
            };
            pos = pos
                .checked_add(need)
                .ok_or_else(|| Hdf5Error::corrupt(WHAT, at, "object size overflow"))?;
        }
        Ok(Self { objects, offset: abs })
    }

    /// The object with index `index`.
    pub(crate) fn get(&self, index: u32) -> Result<Bytes, Hdf5Error> {
        u16::try_from(index)
            .ok()
            .and_then(|i| self.objects.get(&i))
            .cloned()
            .ok_or_else(|| Hdf5Error::corrupt(WHAT, self.offset, format!("no object with index {index}")))
    }

    /// Number of objects.
    pub(crate) fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether the collection holds no objects.
    pub(crate) fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

/// Read object `index` of the global heap collection at relative address `collection_addr`.
pub(crate) fn read_global_heap_object(
    src: &dyn ReadAt,
    sizes: Sizes,
    collection_addr: u64,
    index: u32,
) -> Result<Bytes, Hdf5Error> {
    GlobalHeapCollection::read(src, sizes, collection_addr)?.get(index)
}

/// A variable-length element as stored in a dataset or attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VlenRef {
    /// Number of base-type elements (bytes for strings).
    pub length: u32,
    /// Relative address of the global heap collection (`None` if undefined, i.e. a null
    /// or empty element).
    pub collection: Option<u64>,
    /// Object index in the collection.
    pub index: u32,
}

impl VlenRef {
    /// Size of an encoded element: 4 + size of offsets + 4.
    pub(crate) fn encoded_size(sizes: Sizes) -> usize {
        8 + usize::from(sizes.offset)
    }

    /// Decode one element from `c`.
    pub(crate) fn parse(c: &mut Cursor<'_>, sizes: Sizes) -> Result<Self, Hdf5Error> {
        let length = c.u32()?;
        let addr = c.uint(sizes.offset.into())?;
        let index = c.u32()?;
        let collection = if is_undefined(sizes, addr) || addr == 0 {
            None
        } else {
            Some(addr)
        };
        Ok(Self {
            length,
            collection,
            index,
        })
    }
}

/// Parsed collections by relative address, so the vlen strings of many attributes sharing a
/// collection cost one read.
#[derive(Debug, Default)]
pub(crate) struct GlobalHeapCache {
    collections: HashMap<u64, Arc<GlobalHeapCollection>>,
}

impl GlobalHeapCache {
    /// An empty cache.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The collection at `addr`, read on first use.
    pub(crate) fn collection(
        &mut self,
        src: &dyn ReadAt,
        sizes: Sizes,
        addr: u64,
    ) -> Result<Arc<GlobalHeapCollection>, Hdf5Error> {
        if let Some(c) = self.collections.get(&addr) {
            return Ok(Arc::clone(c));
        }
        let c = Arc::new(GlobalHeapCollection::read(src, sizes, addr)?);
        self.collections.insert(addr, Arc::clone(&c));
        Ok(c)
    }

    /// Object `index` of the collection at `addr`.
    pub(crate) fn get(&mut self, src: &dyn ReadAt, sizes: Sizes, addr: u64, index: u32) -> Result<Bytes, Hdf5Error> {
        self.collection(src, sizes, addr)?.get(index)
    }

    /// The bytes of a vlen element (empty for a null element). The object must hold at least
    /// `length × elem_size` bytes; exactly that many are returned.
    pub(crate) fn resolve(
        &mut self,
        src: &dyn ReadAt,
        sizes: Sizes,
        vlen: VlenRef,
        elem_size: usize,
    ) -> Result<Bytes, Hdf5Error> {
        let Some(addr) = vlen.collection else {
            return Ok(Bytes::new());
        };
        let obj = self.get(src, sizes, addr, vlen.index)?;
        let want = usize::try_from(vlen.length)
            .ok()
            .and_then(|l| l.checked_mul(elem_size))
            .filter(|&w| w <= obj.len())
            .ok_or_else(|| {
                Hdf5Error::corrupt(
                    WHAT,
                    addr,
                    format!(
                        "vlen element of {} items longer than its {}-byte object",
                        vlen.length,
                        obj.len()
                    ),
                )
            })?;
        Ok(obj.slice(..want))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdf5::heap::test_util;
    use crate::hdf5::S8;

    fn collection(objs: &[(u16, &[u8])], size: u64) -> Vec<u8> {
        let mut f = b"GCOL\x01\0\0\0".to_vec();
        f.extend_from_slice(&size.to_le_bytes());
        for (i, d) in objs {
            f.extend_from_slice(&i.to_le_bytes());
            f.extend_from_slice(&1u16.to_le_bytes());
            f.extend_from_slice(&[0; 4]);
            f.extend_from_slice(&(d.len() as u64).to_le_bytes());
            f.extend_from_slice(d);
            while !f.len().is_multiple_of(8) {
                f.push(0);
            }
        }
        let free = size - f.len() as u64;
        f.extend_from_slice(&0u16.to_le_bytes());
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&free.to_le_bytes());
        f.resize(size as usize, 0);
        f
    }

    #[test]
    fn parses_objects() {
        let f = collection(&[(1, b"hello"), (2, b"12345678"), (7, b"")], 4096);
        let c = GlobalHeapCollection::read(&f, S8, 0).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(&c.get(1).unwrap()[..], b"hello");
        assert_eq!(&c.get(2).unwrap()[..], b"12345678");
        assert_eq!(&c.get(7).unwrap()[..], b"");
        assert!(c.get(3).is_err());
        assert!(c.get(70000).is_err());
        assert_eq!(&read_global_heap_object(&f, S8, 0, 2).unwrap()[..], b"12345678");

        let mut cache = GlobalHeapCache::new();
        let elem = [5u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
        let v = VlenRef::parse(&mut Cursor::new(&elem, 0, "vlen"), S8).unwrap();
        assert_eq!(
            v,
            VlenRef {
                length: 5,
                collection: None,
                index: 1
            }
        );
        let v = VlenRef {
            collection: Some(0),
            ..v
        };
        assert_eq!(&cache.resolve(&f, S8, v, 1).unwrap()[..], b"hello");
        assert!(cache.resolve(&f, S8, VlenRef { length: 6, ..v }, 1).is_err());
    }

    #[test]
    fn rejects_corruption() {
        let mut f = collection(&[(1, b"hello")], 64);
        f[24..32].copy_from_slice(&1000u64.to_le_bytes()); // object larger than collection
        assert!(GlobalHeapCollection::read(&f, S8, 0).is_err());
        let mut f = collection(&[(1, b"hello")], 64);
        f[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(GlobalHeapCollection::read(&f, S8, 0).is_err());
        let f = collection(&[(1, b"a"), (1, b"b")], 128);
        assert!(GlobalHeapCollection::read(&f, S8, 0).is_err());
        let f = collection(&[(1, b"a")], 64);
        assert!(GlobalHeapCollection::read(&f[..40].to_vec(), S8, 0).is_err());
    }

    /// Every GCOL in the corpus netCDF/HDF5 files parses, and vlen string attribute values
    /// that h5py reports appear among the objects.
    #[test]
    fn corpus_collections_parse() {
        let Some(dir) = test_util::corpus() else {
            return;
        };
        let files = [
            "gdal-autotest/autotest/gdrivers/data/hdf5/vlstr_metadata.h5",
            "kerchunk/tests/NEONDSTowerTemperatureData.hdf5",
            "jhdf/jhdf/src/test/resources/hdf5/test_attribute_latest.hdf5",
            "gdal-autotest/autotest/gdrivers/data/netcdf/nc4_vars.nc",
            "netcdf-c/nc_test4/ref_hdf5_compat1.nc",
        ];
        let (mut parsed, mut checked) = (0, 0);
        for name in files {
            let path = dir.join(name);
            let Ok(data) = std::fs::read(&path) else {
                eprintln!("skipping missing {}", path.display());
                continue;
            };
            let data = Bytes::from(data);
            let mut objects: Vec<Vec<u8>> = Vec::new();
            for off in test_util::find_all(&data, b"GCOL") {
                let c = GlobalHeapCollection::read(&data, S8, off).unwrap_or_else(|e| panic!("{name} @{off:#x}: {e}"));
                assert!(!c.is_empty());
                objects.extend(c.objects.values().map(|b| b.to_vec()));
                parsed += 1;
            }
            // Every vlen string attribute value h5py reports must be a heap object.
            let script = "import h5py,sys\nf=h5py.File(sys.argv[1],'r')\ndef each(name,obj):\n  for k in obj.attrs:\n    t=obj.attrs.get_id(k).get_type()\n    if isinstance(t,h5py.h5t.TypeStringID) and t.is_variable_str():\n      v=obj.attrs[k]\n      for x in ([v] if getattr(v,'shape',())==() else list(v.flat)):\n        print((x if isinstance(x,bytes) else str(x).encode()).hex())\neach('/',f)\nf.visititems(each)\n";
            if let Some(out) = test_util::run_python(script, &[path.to_str().unwrap()]) {
                for line in out.lines().filter(|l| !l.is_empty()) {
                    let want: Vec<u8> = (0..line.len() / 2)
                        .map(|i| u8::from_str_radix(&line[2 * i..2 * i + 2], 16).unwrap())
                        .collect();
                    if want.is_empty() {
                        continue;
                    }
                    assert!(
                        objects.iter().any(|o| o == &want),
                        "{name}: vlen attribute {:?} not found",
                        String::from_utf8_lossy(&want)
                    );
                    checked += 1;
                }
            }
        }
        eprintln!("parsed {parsed} global heap collections, found {checked} vlen string attribute values");
    }
}

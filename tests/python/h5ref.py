"""Reference values and chunk tables from h5py/libhdf5, and bit-exact comparison."""
import numpy as np


def native(a):
    a = np.asarray(a)
    if a.dtype.byteorder not in ("=", "|") and a.dtype.kind in "iufcb":
        a = a.astype(a.dtype.newbyteorder("="))
    return a


class ObjectRefs:
    """h5py's values of an object-reference dataset, which vzarr stores as the path of each
    target (`""` for a null reference): compared by the header address of the object each
    path names in `file`, since an object may have several paths."""

    def __init__(self, file, refs):
        import h5py

        self.file = file
        self.shape = refs.shape
        self.dtype = refs.dtype  # object, as h5py gives references
        self.addrs = [h5py.h5o.get_info(file[r].id).addr if r else None for r in refs.reshape(-1)]

    def compare(self, got):
        import h5py

        got = np.asarray(got)
        if got.shape != self.shape:
            return False, f"shape {got.shape} != {self.shape}"
        for i, (want, path) in enumerate(zip(self.addrs, got.reshape(-1))):
            path = path.decode() if isinstance(path, bytes) else str(path)
            if want is None:
                if path != "":
                    return False, f"element {i}: null reference read as {path!r}"
                continue
            try:
                have = h5py.h5o.get_info(self.file[path].id).addr
            except Exception as e:  # noqa: BLE001
                return False, f"element {i}: {path!r} does not name an object ({e})"
            if have != want:
                return False, f"element {i}: {path!r} is not the referenced object"
        return True, ""


class VlenSeqs:
    """h5py's values of a variable-length sequence dataset (an object array of arrays), which
    vzarr stores as `vlen-bytes`: each element the sequence's item bytes as stored, their dtype
    in the attribute `_hdf5_vlen_dtype`. `compare` checks each `bytes` element is whole `item`s
    (the item dtype h5py reports, in the file's byte order) and holds the bytes of h5py's
    sequence. (h5py 3.x hands big-endian sequences back with the file's bytes under a native
    dtype, so values would differ where the bytes agree.)"""

    def __init__(self, values, item, shape=None):
        if shape == ():
            # h5py reads a scalar sequence as the sequence itself.
            values, one = np.empty((), dtype=object), values
            values[()] = one
        self.values = np.asarray(values)
        self.shape = self.values.shape
        self.dtype = self.values.dtype
        self.item = np.dtype(item)

    def compare(self, got):
        got = np.asarray(got)
        if got.shape != self.shape:
            return False, f"shape {got.shape} != {self.shape}"
        if got.shape == () and got.dtype.kind == "S":
            # zarr-python 3.1 reads a 0-d variable-length bytes array as `S<len>`: its one
            # element's bytes are the buffer (`.item()` would drop trailing NULs).
            got = np.array([got.tobytes()], dtype=object).reshape(())
        for i, (want, b) in enumerate(zip(self.values.reshape(-1), got.reshape(-1))):
            if not isinstance(b, bytes):
                return False, f"element {i} is {type(b).__name__}, not bytes"
            if len(b) % self.item.itemsize:
                return False, f"element {i}: {len(b)} bytes, not whole {self.item} items"
            want = np.ascontiguousarray(want)
            if want.dtype.itemsize != self.item.itemsize or want.tobytes() != b:
                return False, f"element {i}: {len(b) // self.item.itemsize} items differ from h5py's {want.size}"
        return True, ""


def vlen_item_dtype(ds):
    """The item dtype of a variable-length sequence dataset (not strings) vzarr stores as
    `vlen-bytes`, else None."""
    import h5py

    t = h5py.check_vlen_dtype(ds.dtype)
    return None if t is None or t in (str, bytes) or is_json(ds) else np.dtype(t)


def _has_sequence(tid):
    import h5py

    cls = tid.get_class()
    if cls == h5py.h5t.VLEN:
        return True
    if cls == h5py.h5t.ARRAY:
        return _has_sequence(tid.get_super())
    if cls == h5py.h5t.COMPOUND:
        return any(_has_sequence(tid.get_member_type(i)) for i in range(tid.get_nmembers()))
    return False


def is_json(ds):
    """Whether vzarr stores `ds` as JSON text (attribute `_hdf5_json_type`): a compound with a
    variable-length sequence member, or a sequence of sequences or of compounds."""
    import h5py

    tid = ds.id.get_type()
    if tid.get_class() == h5py.h5t.VLEN:
        base = tid.get_super().get_class()
        # Complex numbers (compounds of r and i) are fixed-size items: `vlen-bytes`.
        return base == h5py.h5t.VLEN or (base == h5py.h5t.COMPOUND and h5py.check_vlen_dtype(ds.dtype).kind != "c")
    if tid.get_class() == h5py.h5t.COMPOUND:
        return any(_has_sequence(tid.get_member_type(i)) for i in range(tid.get_nmembers()))
    return False


def jsonable(v):
    """h5py's value of one element as vzarr's JSON text holds it: lists for sequences and
    arrays, objects for compounds, text for strings, `"NaN"`/`"Infinity"`/`"-Infinity"` for
    non-finite floats, `[re, im]` for complex numbers."""
    if isinstance(v, np.void) and v.dtype.names is not None:
        return {n: jsonable(v[n]) for n in v.dtype.names}
    if isinstance(v, np.ndarray):
        if v.dtype.names is not None or v.dtype.kind in "OSUc" or v.ndim == 0:
            return [jsonable(x) for x in v] if v.ndim else jsonable(v[()])
        return [jsonable(x) for x in v.tolist()] if v.ndim == 1 else [jsonable(x) for x in v]
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8")
    if isinstance(v, (complex, np.complexfloating)):
        return [jsonable(v.real), jsonable(v.imag)]
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if x != x:
            return "NaN"
        if x in (float("inf"), float("-inf")):
            return "Infinity" if x > 0 else "-Infinity"
        return x
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (str, np.str_)):
        return str(v)
    raise TypeError(f"no JSON form for {type(v).__name__}")


class JsonValues:
    """h5py's values of a dataset vzarr stores as JSON text (see `is_json`): `compare` parses
    each string and checks it equals `jsonable` of h5py's element."""

    def __init__(self, values, shape):
        if shape == ():
            # h5py reads a scalar dataset as its one element.
            one, values = values, np.empty((), dtype=object)
            values[()] = one
        self.values = np.asarray(values)
        self.shape = shape
        self.dtype = self.values.dtype

    def compare(self, got):
        import json

        got = np.asarray(got)
        if got.shape != self.shape:
            return False, f"shape {got.shape} != {self.shape}"
        for i, (want, text) in enumerate(zip(self.values.reshape(-1), got.reshape(-1))):
            text = text.decode() if isinstance(text, bytes) else str(text)
            try:
                parsed = json.loads(text)
            except ValueError as e:
                return False, f"element {i} is not JSON ({e}): {text[:80]!r}"
            if parsed != jsonable(want):
                return False, f"element {i}: {text[:80]!r} != {json.dumps(jsonable(want))[:80]}"
        return True, ""


class RegionRefs:
    """h5py's values of a region-reference dataset, which vzarr stores as text: the path of the
    referenced dataset, then (unless the region is the whole dataset) the region as h5dump
    prints it: `{(0,1)-(2,3), ...}` for hyperslab blocks (inclusive corners, libhdf5's block
    order), `{(6,9), ...}` for points, `{}` for none; `""` for a null reference. Compared by the
    header address of the dataset each path names and by libhdf5's own selection of each
    reference."""

    def __init__(self, file, refs):
        import h5py

        self.file = file
        self.shape = refs.shape
        self.dtype = refs.dtype
        self.want = []
        for r in refs.reshape(-1):
            if not r:
                self.want.append(None)
                continue
            space = h5py.h5r.get_region(r, file.id)
            kind = space.get_select_type()
            corner = lambda c: "(" + ",".join(str(int(x)) for x in c) + ")"  # noqa: E731
            if kind == h5py.h5s.SEL_ALL:
                text = None
            elif kind == h5py.h5s.SEL_NONE:
                text = "{}"
            elif kind == h5py.h5s.SEL_POINTS:
                text = "{" + ", ".join(corner(p) for p in space.get_select_elem_pointlist()) + "}"
            else:
                text = "{" + ", ".join(f"{corner(b[0])}-{corner(b[1])}" for b in space.get_select_hyper_blocklist()) + "}"
            self.want.append((h5py.h5o.get_info(file[r].id).addr, text))

    def compare(self, got):
        import h5py

        got = np.asarray(got)
        if got.shape != self.shape:
            return False, f"shape {got.shape} != {self.shape}"
        for i, (want, s) in enumerate(zip(self.want, got.reshape(-1))):
            s = s.decode() if isinstance(s, bytes) else str(s)
            if want is None:
                if s != "":
                    return False, f"element {i}: null reference read as {s!r}"
                continue
            path, _, text = s.partition(" {")
            text = "{" + text if text else None
            try:
                have = h5py.h5o.get_info(self.file[path].id).addr
            except Exception as e:  # noqa: BLE001
                return False, f"element {i}: {path!r} does not name an object ({e})"
            if have != want[0]:
                return False, f"element {i}: {path!r} is not the referenced dataset"
            if text != want[1]:
                return False, f"element {i}: region {text!r}, libhdf5 selects {want[1]!r}"
        return True, ""


def is_region_ref(ds):
    """Whether `ds` holds (old-style) region references h5py reads."""
    import h5py

    try:
        return h5py.check_ref_dtype(ds.dtype) is h5py.RegionReference and ds.dtype.itemsize > 0
    except TypeError:
        return False


def is_converted(ds):
    """Whether libhdf5 converts `ds`'s stored numbers on read (integers with padding bits,
    floats whose layout is not IEEE binary16/32/64), so vzarr stores h5py's values inline."""
    import h5py

    t = ds.id.get_type()
    size = t.get_size()
    if t.get_class() == h5py.h5t.INTEGER:
        return t.get_precision() != 8 * size or t.get_offset() != 0
    if t.get_class() == h5py.h5t.FLOAT:
        std = {2: ((15, 10, 5, 0, 10), 15), 4: ((31, 23, 8, 0, 23), 127), 8: ((63, 52, 11, 0, 52), 1023)}.get(size)
        return std is None or (tuple(t.get_fields()), t.get_ebias()) != std or t.get_precision() != 8 * size or t.get_offset() != 0
    return False


def is_object_ref(ds):
    """Whether `ds` holds (old-style) object references h5py reads."""
    import h5py

    try:
        return h5py.check_ref_dtype(ds.dtype) is h5py.Reference and ds.dtype.itemsize > 0
    except TypeError:  # a reference type h5py cannot read
        return False


def h5_values(ds, sel=None):
    """h5py's values of `ds` (or `ds[sel]`) as `same_bits` compares them: [`ObjectRefs`] /
    [`RegionRefs`] for object / region references, [`VlenSeqs`] for variable-length sequences,
    [`JsonValues`] for what vzarr stores as JSON text, the NumPy array otherwise."""
    v = ds[()] if sel is None or sel == () else ds[sel]
    if is_object_ref(ds):
        return ObjectRefs(ds.file, np.asarray(v))
    if is_region_ref(ds):
        return RegionRefs(ds.file, np.asarray(v))
    if is_json(ds):
        return JsonValues(v, ds.shape if sel is None or sel == () else np.asarray(v).shape)
    item = vlen_item_dtype(ds)
    if item is not None:
        return VlenSeqs(v, item, ds.shape)
    return v


def flatten_array_fields(dt):
    """The structured dtype vzarr maps an HDF5 compound to when it has array members: each
    array member `a` of shape (2, 3) becomes fields `a[0,0]` … `a[1,2]` at the same offsets
    (nested compounds likewise). Other dtypes are returned as they are."""
    if dt.names is None:
        return dt
    names, formats, offsets = [], [], []
    for n in dt.names:
        fdt, off = dt.fields[n][:2]
        if fdt.subdtype is not None:
            base, shape = fdt.subdtype
            base = flatten_array_fields(base)
            for k, idx in enumerate(np.ndindex(*shape)):
                names.append(f"{n}[{','.join(map(str, idx))}]")
                formats.append(base)
                offsets.append(off + k * base.itemsize)
        else:
            names.append(n)
            formats.append(flatten_array_fields(fdt))
            offsets.append(off)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": dt.itemsize})


def as_text(got):
    """A reader's strings (object or StringDType arrays) as NumPy unicode, for `same_bits`;
    object arrays of `bytes` (variable-length sequences) and 0-d byte strings as they are."""
    got = np.asarray(got)
    if got.dtype.kind == "O" and got.size and all(isinstance(x, bytes) for x in got.reshape(-1)):
        return got
    if got.dtype.kind in "OT":
        return np.array([str(x) for x in got.reshape(-1)], dtype=str).reshape(got.shape)
    return got


def same_bits(expected, got):
    """True when `got` equals `expected` bit for bit (NaN payloads included); `expected`
    may be [`ObjectRefs`] (see [`h5_values`])."""
    if isinstance(expected, (ObjectRefs, RegionRefs, VlenSeqs, JsonValues)):
        return expected.compare(got)
    e, g = native(expected), native(got)
    if e.shape != g.shape:
        return False, f"shape {g.shape} != {e.shape}"
    if e.dtype.kind == "O" and g.dtype.kind == "S":
        # Variable-length string members of compounds: vzarr stores NUL-padded byte strings
        # as wide as the longest; h5py gives bytes (or str for UTF-8) ending at the first NUL.
        as_bytes = [x.encode("utf-8") if isinstance(x, str) else x for x in e.reshape(-1)]
        if as_bytes != g.reshape(-1).tolist():
            diff = next(i for i, (a, b) in enumerate(zip(as_bytes, g.reshape(-1).tolist())) if a != b)
            return False, f"strings differ (first at flat index {diff})"
        return True, ""
    if e.dtype.kind in "OS" and g.dtype.kind == "U":
        # Variable-length strings: h5py gives bytes (or str) objects, vzarr get fixed unicode.
        as_str = [x.decode("utf-8") if isinstance(x, bytes) else x for x in e.reshape(-1)]
        if as_str != g.reshape(-1).tolist():
            diff = next(i for i, (a, b) in enumerate(zip(as_str, g.reshape(-1).tolist())) if a != b)
            return False, f"strings differ (first at flat index {diff})"
        return True, ""
    if e.dtype.names is not None and g.dtype.names is not None and e.dtype.names != g.dtype.names:
        # Array members of compounds are stored as one field per element (same bytes).
        flat = flatten_array_fields(e.dtype)
        if flat.names == g.dtype.names:
            if not e.dtype.hasobject:
                e = e.view(flat)
            else:
                # Object fields (variable-length strings) cannot be viewed: element by element.
                for n in e.dtype.names:
                    sub = e.dtype.fields[n][0].subdtype
                    if sub is None:
                        ok, why = same_bits(e[n], g[n])
                        if not ok:
                            return False, f"field {n}: {why}"
                        continue
                    for idx in np.ndindex(*sub[1]):
                        name = f"{n}[{','.join(map(str, idx))}]"
                        ok, why = same_bits(e[n][(Ellipsis, *idx)], g[name])
                        if not ok:
                            return False, f"field {name}: {why}"
                return True, ""
    if e.dtype.names is not None and g.dtype.names is not None and e.dtype != g.dtype:
        # Compounds vzarr stores packed and little-endian: compare field by field.
        if e.dtype.names != g.dtype.names:
            return False, f"fields {g.dtype.names} != {e.dtype.names}"
        for n in e.dtype.names:
            ok, why = same_bits(e[n], g[n])
            if not ok:
                return False, f"field {n}: {why}"
        return True, ""
    if g.dtype.kind == "V" and g.dtype.names is None and e.dtype.itemsize == g.dtype.itemsize:
        # Opaque: h5py may give a NumPy type from the opaque tag; the bytes are the data.
        e = np.ascontiguousarray(e).view(g.dtype)
    if e.dtype.kind == "S" and g.dtype.kind == "S":
        # NumPy strips trailing NULs from S values; compare the padded bytes.
        n = max(e.dtype.itemsize, g.dtype.itemsize)
        e, g = e.astype(f"S{n}"), g.astype(f"S{n}")
    elif e.dtype.kind == "b" and g.dtype.kind == "b":
        pass
    elif e.dtype != g.dtype:
        return False, f"dtype {g.dtype} != {e.dtype}"
    if e.tobytes() != g.tobytes():
        diff = np.flatnonzero(e.reshape(-1).view(np.uint8) != g.reshape(-1).view(np.uint8)) if e.size else []
        return False, f"values differ (first differing byte {diff[0] if len(diff) else '?'})"
    return True, ""


def chunk_table(ds):
    """libhdf5's storage of a dataset: {coords: (offset, size, filter_mask)} or None if compact."""
    import h5py

    dcpl = ds.id.get_create_plist()
    layout = dcpl.get_layout()
    if layout == h5py.h5d.CHUNKED:
        chunks = ds.chunks
        out = {}
        for i in range(ds.id.get_num_chunks()):
            info = ds.id.get_chunk_info(i)
            coords = tuple(o // c for o, c in zip(info.chunk_offset, chunks))
            out[coords] = (info.byte_offset, info.size, info.filter_mask)
        return "chunked", out
    if layout == h5py.h5d.CONTIGUOUS:
        off, size = ds.id.get_offset(), ds.id.get_storage_size()
        # No storage allocated (address undefined, or nothing stored): all fill value.
        return "contiguous", {} if off is None or size == 0 else {(0,) * ds.ndim: (off, size, 0)}
    if layout == h5py.h5d.COMPACT:
        return "compact", None
    return "other", None


def write_materializable_file(path, rows, seed):
    """An HDF5 file (h5py) vzarr cannot reference but can materialize: `big`, `rows` x 700
    int32 random values (poorly compressible, so its chunks go beside the manifest) and
    `small`, 20 int16, both virtual datasets interleaving rows of two source datasets of the
    same file (every other row: no mapped block is a whole chunk of a source), and `plain`, an
    unfiltered float64 array. The sources are under `src/`."""
    import h5py

    def interleaved(f, name, arr):
        half = [arr[0::2], arr[1::2]]
        layout = h5py.VirtualLayout(shape=arr.shape, dtype=arr.dtype)
        for k, part in enumerate(half):
            f.create_dataset(f"src/{name}_{k}", data=part)
            layout[k::2] = h5py.VirtualSource(".", f"src/{name}_{k}", shape=part.shape)
        f.create_virtual_dataset(name, layout)

    big = np.random.default_rng(seed).integers(0, 1 << 20, size=(rows, 700), dtype="i4")
    # Default format versions: the VDS heap block of libver="latest" (version 1, HDF5 2.0) is
    # beyond the libhdf5 1.10 that the libhdf5 build links.
    with h5py.File(path, "w") as f:
        interleaved(f, "big", big)
        interleaved(f, "small", np.arange(20, dtype="i2"))
        f.create_dataset("plain", data=np.arange(10.0))

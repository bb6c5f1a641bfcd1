//! Raw definitions from the HDF5 File Format Specification (version 3.0 / 4.0): signatures,
//! message type numbers, datatype classes, layout classes, filter identifiers.
//!
//! Constants only, no logic (like `object`'s `elf.rs`). Names follow the specification.
//! <https://support.hdfgroup.org/documentation/hdf5/latest/_f_m_t4.html>
//!
//! Not every constant is used by the reader yet; they are kept complete for reference.
#![allow(dead_code)]

/// Format signature at the start of the superblock (II.A).
pub(crate) const FORMAT_SIGNATURE: [u8; 8] = *b"\x89HDF\r\n\x1a\n";
/// Version 2 object header signature (IV.A.1.b).
pub(crate) const OHDR_SIGNATURE: [u8; 4] = *b"OHDR";
/// Version 2 object header continuation block signature.
pub(crate) const OCHK_SIGNATURE: [u8; 4] = *b"OCHK";

/// Header message types (IV.A.2).
pub(crate) mod msg {
    pub(crate) const NIL: u16 = 0x0000;
    pub(crate) const DATASPACE: u16 = 0x0001;
    pub(crate) const LINK_INFO: u16 = 0x0002;
    pub(crate) const DATATYPE: u16 = 0x0003;
    pub(crate) const FILL_VALUE_OLD: u16 = 0x0004;
    pub(crate) const FILL_VALUE: u16 = 0x0005;
    pub(crate) const LINK: u16 = 0x0006;
    pub(crate) const EXTERNAL_DATA_FILES: u16 = 0x0007;
    pub(crate) const DATA_LAYOUT: u16 = 0x0008;
    pub(crate) const BOGUS: u16 = 0x0009;
    pub(crate) const GROUP_INFO: u16 = 0x000A;
    pub(crate) const FILTER_PIPELINE: u16 = 0x000B;
    pub(crate) const ATTRIBUTE: u16 = 0x000C;
    pub(crate) const OBJECT_COMMENT: u16 = 0x000D;
    pub(crate) const OBJECT_MODIFICATION_TIME_OLD: u16 = 0x000E;
    pub(crate) const SHARED_MESSAGE_TABLE: u16 = 0x000F;
    pub(crate) const CONTINUATION: u16 = 0x0010;
    pub(crate) const SYMBOL_TABLE: u16 = 0x0011;
    pub(crate) const OBJECT_MODIFICATION_TIME: u16 = 0x0012;
    pub(crate) const BTREE_K_VALUES: u16 = 0x0013;
    pub(crate) const DRIVER_INFO: u16 = 0x0014;
    pub(crate) const ATTRIBUTE_INFO: u16 = 0x0015;
    pub(crate) const REFERENCE_COUNT: u16 = 0x0016;
    pub(crate) const FILE_SPACE_INFO: u16 = 0x0017;
    /// Highest message type number defined by the specification.
    pub(crate) const MAX_KNOWN: u16 = 0x0018;
}

/// Header message flags (IV.A.2, "Header Message Flags").
pub(crate) mod msg_flags {
    pub(crate) const CONSTANT: u8 = 0x01;
    pub(crate) const SHARED: u8 = 0x02;
    pub(crate) const FAIL_IF_UNKNOWN_WRITE: u8 = 0x08;
    pub(crate) const FAIL_IF_UNKNOWN_ALWAYS: u8 = 0x80;
}

/// Version 2 object header flags (IV.A.1.b).
pub(crate) mod ohdr_flags {
    pub(crate) const CHUNK0_SIZE_MASK: u8 = 0x03;
    pub(crate) const ATTR_CREATION_ORDER_TRACKED: u8 = 0x04;
    pub(crate) const ATTR_CREATION_ORDER_INDEXED: u8 = 0x08;
    pub(crate) const ATTR_PHASE_CHANGE_STORED: u8 = 0x10;
    pub(crate) const TIMES_STORED: u8 = 0x20;
}

/// Shared message types (IV.A.2, shared message encoding, version 3).
pub(crate) mod shared {
    pub(crate) const SOHM: u8 = 1;
    pub(crate) const COMMITTED: u8 = 2;
}

/// Datatype classes (IV.A.2.d).
pub(crate) mod class {
    pub(crate) const FIXED_POINT: u8 = 0;
    pub(crate) const FLOATING_POINT: u8 = 1;
    pub(crate) const TIME: u8 = 2;
    pub(crate) const STRING: u8 = 3;
    pub(crate) const BITFIELD: u8 = 4;
    pub(crate) const OPAQUE: u8 = 5;
    pub(crate) const COMPOUND: u8 = 6;
    pub(crate) const REFERENCE: u8 = 7;
    pub(crate) const ENUMERATED: u8 = 8;
    pub(crate) const VARIABLE_LENGTH: u8 = 9;
    pub(crate) const ARRAY: u8 = 10;
    pub(crate) const COMPLEX: u8 = 11;
}

/// Dataspace types (IV.A.2.b, version 2).
pub(crate) mod dataspace_type {
    pub(crate) const SCALAR: u8 = 0;
    pub(crate) const SIMPLE: u8 = 1;
    pub(crate) const NULL: u8 = 2;
}

/// Data layout classes (IV.A.2.i).
pub(crate) mod layout_class {
    pub(crate) const COMPACT: u8 = 0;
    pub(crate) const CONTIGUOUS: u8 = 1;
    pub(crate) const CHUNKED: u8 = 2;
    pub(crate) const VIRTUAL: u8 = 3;
}

/// Chunk indexing types of layout message version 4 (IV.A.2.i).
pub(crate) mod chunk_index {
    pub(crate) const SINGLE_CHUNK: u8 = 1;
    pub(crate) const IMPLICIT: u8 = 2;
    pub(crate) const FIXED_ARRAY: u8 = 3;
    pub(crate) const EXTENSIBLE_ARRAY: u8 = 4;
    pub(crate) const BTREE_V2: u8 = 5;
}

/// Filter identifiers (IV.A.2.l) and well-known registered third-party ids.
pub(crate) mod filter {
    pub(crate) const DEFLATE: u16 = 1;
    pub(crate) const SHUFFLE: u16 = 2;
    pub(crate) const FLETCHER32: u16 = 3;
    pub(crate) const SZIP: u16 = 4;
    pub(crate) const NBIT: u16 = 5;
    pub(crate) const SCALEOFFSET: u16 = 6;
    /// Filter flag bit 0: the filter is optional.
    pub(crate) const FLAG_OPTIONAL: u16 = 0x0001;
}

/// Link types (IV.A.2.g).
pub(crate) mod link_type {
    pub(crate) const HARD: u8 = 0;
    pub(crate) const SOFT: u8 = 1;
    pub(crate) const EXTERNAL: u8 = 64;
}

/// Symbol table entry cache types (III.C).
pub(crate) mod cache_type {
    pub(crate) const NONE: u8 = 0;
    pub(crate) const GROUP: u8 = 1;
    pub(crate) const SOFT_LINK: u8 = 2;
}

/// String padding types (IV.A.2.d, class 3 bit field bits 0–3).
pub(crate) mod str_pad {
    pub(crate) const NULL_TERMINATE: u8 = 0;
    pub(crate) const NULL_PAD: u8 = 1;
    pub(crate) const SPACE_PAD: u8 = 2;
}

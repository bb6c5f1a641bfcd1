//! Header message decoders, one file per message type (spec IV.A.2).
//!
//! Each decoder takes the message body (`data`), its absolute file offset (for error
//! messages) and the file's [`Sizes`](super::Sizes), and returns a plain struct named as in
//! the specification. Decoders check every length against the body; none panics.

pub(crate) mod attribute;
pub(crate) mod attribute_info;
pub(crate) mod continuation;
pub(crate) mod dataspace;
pub(crate) mod datatype;
pub(crate) mod external;
pub(crate) mod fill_value;
pub(crate) mod filter_pipeline;
pub(crate) mod group_info;
pub(crate) mod layout;
pub(crate) mod link;
pub(crate) mod link_info;
pub(crate) mod shared;
pub(crate) mod symbol_table;

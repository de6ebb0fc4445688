//! Reading manifests moved to `crate::manifest` (shared with `verify`);
//! these names stay here for callers that know them by this path.
//!
//! Invariant: re-exports only.

pub use crate::manifest::object::{compact, Object, Parsed};
pub use crate::manifest::read::*;

//! The manifest layer under `validate` and `verify`: reading rendered
//! manifests with positions (`read`, `object`, `yaml11`), the object index
//! (`index`, with `lookup` and `analysis` keeping every question linear) and
//! Istio's reading of hosts, protocols and identities (`istio`).
//!
//! Invariant: reads manifests only. Nothing here may use `model`, `emit`
//! or `package` (nor `validate` or `verify`, which sit on top): the
//! checkers must stay independent witnesses of the compiler. Positions come
//! from `crate::yaml_pos`, the low-level reader the policy loader uses too.

pub mod analysis;
pub mod compact;
pub mod files;
pub mod index;
pub mod istio;
pub mod lookup;
pub mod node;
pub mod object;
pub mod read;
#[cfg(test)]
pub(crate) mod testing;
pub mod yaml11;

pub use index::ObjectIndex;
pub use node::{Node, View};
pub use object::{Object, Parsed};
pub use read::parse;

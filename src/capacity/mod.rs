//! Capacity of the data center (SOP step 3): the inventory ([`inventory`]) and the check that
//! finds a placement or names the short resource ([`check`]).

pub mod check;
pub mod inventory;

pub use check::{HostingUsage, Placement, ReservedUnits, Resource, Shortage, Usage, Verdict, check};
pub use inventory::{Inventory, InventoryError, Site};

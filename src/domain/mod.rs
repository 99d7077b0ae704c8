//! Domain values, parsed once at the edge and carried typed from then on.
//!
//! A raw `String` from a form never goes past this module: each newtype's `parse` rejects bad
//! input with a message that names what is wrong.

mod approval;
mod fqdn;
mod newtype;
mod nip;
mod request;
mod run_id;
mod server_spec;
mod saved_output;
pub mod text;

pub use approval::{Approval, ApprovalDecision, ColocationBlock, DataCenterBlock, HardwareReceipt, HostAdmin, Revocation};
pub use fqdn::{Fqdn, FqdnError};
pub(crate) use newtype::{string_newtype, text_form};
pub use nip::{Nip, NipError};
pub use request::{FormError, Official, RequestForm, RequestId, RequestIdError, RequestKind, Unit, Validity};
pub use run_id::{RunId, RunIdError};
pub use server_spec::{
    ApplicationSpec, CompareOp, Hostname, OsSpec, PackageName, Protocol, ServerSpec, ServicePort, SpecError, VersionConstraint,
};
pub use saved_output::SavedOutput;
pub use text::{DateError, Email, EmailError, Phone, PhoneError, Text, TextError, iso_date, parse_date};

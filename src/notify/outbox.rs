//! The outbox: one row per (request, event, channel), written `sending` before the message
//! leaves and `sent` after (audited), so a re-run knows whether to send and under which
//! Message-ID (see the module doc of [`crate::notify`]). The rows live in the store
//! ([`crate::store::outbox`]); this is their door in notices' own terms.

use super::{Channel, Event};
use crate::store::{Store, StoreError, outbox};

pub use crate::store::outbox::{OutboxRow, Status, for_request, mark_failed, mark_sent};

/// The row of one notice, if it was ever attempted.
pub async fn get(store: &Store, request_id: &str, event: Event, channel: Channel) -> Result<Option<OutboxRow>, StoreError> {
    outbox::get_keyed(store, request_id, event.as_str(), channel.as_str()).await
}

/// [`get`] by the event's key as stored (`drifted#2`: one notice per drift episode).
pub async fn get_keyed(store: &Store, request_id: &str, event: &str, channel: Channel) -> Result<Option<OutboxRow>, StoreError> {
    outbox::get_keyed(store, request_id, event, channel.as_str()).await
}

/// Records an attempt before the message leaves. The first attempt saves `message_id`; later
/// ones keep the saved one. Returns the row as it now stands: if it says `sent`, send nothing.
pub async fn begin(
    store: &Store,
    request_id: &str,
    event: Event,
    channel: Channel,
    message_id: &str,
    recipients: &[String],
) -> Result<OutboxRow, StoreError> {
    outbox::begin_keyed(store, request_id, event.as_str(), channel.as_str(), message_id, recipients).await
}

/// [`begin`] under an event key of the caller's (`drifted#2`).
pub async fn begin_keyed(
    store: &Store,
    request_id: &str,
    event: &str,
    channel: Channel,
    message_id: &str,
    recipients: &[String],
) -> Result<OutboxRow, StoreError> {
    outbox::begin_keyed(store, request_id, event, channel.as_str(), message_id, recipients).await
}

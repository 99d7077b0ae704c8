//! Authentication: passwords (argon2id), the office directory (LDAP), API tokens (random,
//! stored as SHA-256) and the in-memory limiter that slows down guessing.
//!
//! Owns no storage: users and tokens live in `store::users`; who may create, revoke or use them
//! is decided in `service::users`.

pub mod directory;
pub mod password;
pub mod proxy;
pub mod ratelimit;
pub mod tokens;

pub use directory::{Directory, DirectoryError, DirectoryUser};
pub use password::{hash_password, verify_password};
pub use proxy::TrustedProxies;
pub use ratelimit::{AuthLimiter, Limited};
pub use tokens::{TOKEN_PREFIX, hash_token, new_token};

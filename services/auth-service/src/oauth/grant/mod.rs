//! One module per grant, each with its `exchange`: what the grant checks, and how its token is
//! made. The client is already authenticated and allowed to use the grant.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

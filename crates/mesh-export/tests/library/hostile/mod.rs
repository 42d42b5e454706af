//! The client against hostile or broken servers: absurd numbers, leaked signatures, paging
//! loops, truncated bodies, hanging endpoints, gateways that answer for a backend that acted.

mod clients;
mod get_or_start;
mod numbers;
mod redaction;
mod responses;
mod server;
mod tokens;

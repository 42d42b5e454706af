//! The transfer of one file: skipped when it is already complete on disk, else fetched with
//! retries (GET attempts, a `Range` request that continues a broken transfer, an idle timeout
//! per read) and handed to its writer in the store; then what it names, read for the
//! scheduler. Nothing here decides which file comes next.

mod attempt;
mod body;
mod fetcher;
mod file;
mod response;
mod retries;
#[cfg(test)]
mod tests;

pub(crate) use self::fetcher::Fetcher;
pub(crate) use self::file::{Fetched, FileTransfer};
pub(crate) use self::retries::load_of;

//! Storage that keeps nothing: every start is a new epoch with no widgets.
//! For tests and benchmarks (`--storage memory`), and for anyone who wants a
//! dashboard that forgets on restart.

use super::{AnsweredKey, Batch, Recovered, Storage, StorageError};
use crate::hub::new_epoch;

pub struct MemoryStorage;

impl Storage for MemoryStorage {
    fn recover(&mut self) -> Result<Recovered, StorageError> {
        Ok(Recovered {
            epoch: new_epoch(),
            widgets: Vec::new(),
            checkpoint_seq: 0,
            events: Vec::new(),
            revoked: Vec::new(),
        })
    }

    /// Nothing: no event survives the process, so no key needs to.
    fn recover_keys(&mut self) -> Result<Vec<AnsweredKey>, StorageError> {
        Ok(Vec::new())
    }

    fn commit(&mut self, _batch: &Batch<'_>) -> Result<(), StorageError> {
        Ok(())
    }

    fn probe(&mut self) -> Result<(), StorageError> {
        Ok(())
    }

    fn close(&mut self) -> Result<(), StorageError> {
        Ok(())
    }
}

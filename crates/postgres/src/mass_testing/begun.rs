//! A registration batch's transaction, begun and ended by hand.
//!
//! `tokio_postgres::Transaction` waits for `BEGIN`'s answer before anything else can be sent, and
//! cannot send `COMMIT` while a statement of it is in flight. The hot path sends `BEGIN` in the
//! same round trip as the batch's first statements and `COMMIT` in the same round trip as its
//! write (BENCHMARKS.md, twenty-sixth and twenty-seventh sessions): each round trip saved is one
//! less for every caller of the batch to wait through.

use deadpool_postgres::ClientWrapper;
use futures_util::FutureExt;

/// What begins a batch's transaction. Its statements are planned for a handful of rows (index
/// probes) whatever the batch's size: planned for 5,000 people, the first executions of a
/// statement on a connection (custom plans) may hash-join a scan of the whole registrations
/// table into the batch.
const BEGIN: &str = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan";

/// A transaction on `client` that the caller begins with [`Begun::begin`], sent first among its
/// statements, and ends by sending `COMMIT` and calling [`Begun::ended`]. Dropped before that (an
/// error, a batch to redo), it sends a `ROLLBACK`, as `Transaction`'s own drop does.
pub(super) struct Begun<'c> {
    client: &'c ClientWrapper,
    /// `BEGIN` has been sent.
    sent: bool,
    /// `COMMIT` has not.
    open: bool,
}

impl<'c> Begun<'c> {
    pub(super) fn new(client: &'c ClientWrapper) -> Self {
        Begun { client, sent: false, open: true }
    }

    pub(super) fn client(&self) -> &'c ClientWrapper {
        self.client
    }

    /// `BEGIN`, unless it was sent already. It is sent when the future is first polled: poll it
    /// before the statements that belong to the transaction.
    pub(super) fn begin(&mut self) -> impl Future<Output = Result<(), tokio_postgres::Error>> + 'c {
        let first = !std::mem::replace(&mut self.sent, true);
        let client = self.client;
        async move { if first { client.batch_execute(BEGIN).await } else { Ok(()) } }
    }

    /// The caller has sent `COMMIT`: the transaction is over whatever its answer.
    pub(super) fn ended(mut self) {
        self.open = false;
    }
}

impl Drop for Begun<'_> {
    fn drop(&mut self) {
        if self.sent && self.open {
            // One poll sends the statement; its answer is not needed: the connection runs its
            // statements in order, so whoever uses it next finds no transaction open.
            let _ = self.client.batch_execute("ROLLBACK").now_or_never();
        }
    }
}

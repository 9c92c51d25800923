//! XLSX exports of the lists people work from: the incident's tasks, timeline, roll-call board
//! and not-answered list (`command.rs`); a round's coverage, door-knock list, abnormal pools and
//! home visits (`testing.rs`); the day's roster (`rosters.rs`). `sheet.rs` is the writer they share.
//!
//! The data comes from the same application services as the JSON lists, so an export is
//! authorized, scoped and audited exactly like the list it mirrors. ID numbers and phones are
//! masked unless the caller's role may reveal them ([`Numbers`]); every person whose whole
//! number is written is then audited as a reveal with the reason `export`, before the file is
//! sent.

pub(crate) mod command;
pub(crate) mod rosters;
mod sheet;
pub(crate) mod testing;

pub(crate) use sheet::{Book, Cell, col, text_col};

use crate::i18n::Tr;
use bulwark_app::{Actor, AppResult, people};
use bulwark_domain::{
    Millis,
    people::{Document, Person, PersonId, Phone, mask_document, mask_phone},
};
use bulwark_store::Store;
use std::collections::BTreeSet;

/// What an export writes of ID numbers and phones, and whose whole numbers it wrote.
pub(crate) struct Numbers {
    whole: bool,
    revealed: BTreeSet<PersonId>,
}

impl Numbers {
    /// Whole numbers for a role that may reveal them, unless the caller asked for `masked` ones.
    pub(crate) fn for_actor(actor: &Actor, masked: bool) -> Numbers {
        Numbers { whole: !masked && people::may_reveal(actor), revealed: BTreeSet::new() }
    }

    /// The person's document number: whole (noted as revealed) or masked.
    pub(crate) fn document(&mut self, p: &impl Numbered) -> Cell {
        match p.document().number() {
            Some(n) if self.whole => {
                self.revealed.insert(p.id());
                Cell::Code(n.to_string())
            }
            _ => Cell::code(p.document().number().map(mask_document)),
        }
    }

    /// The person's phone: whole (noted as revealed) or masked.
    pub(crate) fn phone(&mut self, p: &impl Numbered) -> Cell {
        match p.phone() {
            Some(ph) if self.whole => {
                self.revealed.insert(p.id());
                Cell::Code(ph.as_str().to_string())
            }
            _ => Cell::code(p.phone().map(|ph| mask_phone(ph.as_str()))),
        }
    }
}

/// A person's record as a sheet holds it: the whole register record, or what a list read of it.
pub(crate) trait Numbered {
    fn id(&self) -> PersonId;
    fn document(&self) -> &Document;
    fn phone(&self) -> Option<&Phone>;
}

impl Numbered for Person {
    fn id(&self) -> PersonId {
        self.id
    }
    fn document(&self) -> &Document {
        &self.document
    }
    fn phone(&self) -> Option<&Phone> {
        self.phone.as_ref()
    }
}

impl Numbered for bulwark_store::testing::PoolPerson {
    fn id(&self) -> PersonId {
        self.id
    }
    fn document(&self) -> &Document {
        &self.document
    }
    fn phone(&self) -> Option<&Phone> {
        self.phone.as_ref()
    }
}

/// A workbook being written for one caller, with the numbers it holds.
pub(crate) struct Export {
    pub book: Book,
    pub numbers: Numbers,
}

impl Export {
    pub(crate) fn new(tr: Tr, actor: &Actor, masked: bool) -> Export {
        Export { book: Book::new(tr), numbers: Numbers::for_actor(actor, masked) }
    }

    pub(crate) fn tr(&self) -> Tr {
        self.book.tr
    }

    /// The file's bytes, once the reveals it holds are in the audit log.
    pub(crate) async fn finish(self, store: &dyn Store, actor: &Actor, now: Millis) -> AppResult<Vec<u8>> {
        let bytes = self.book.save()?;
        let revealed: Vec<PersonId> = self.numbers.revealed.into_iter().collect();
        people::audit_export_reveals(store, actor, &revealed, now).await?;
        Ok(bytes)
    }
}

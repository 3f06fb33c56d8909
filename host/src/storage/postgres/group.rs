//! Group commit: several callers' [`TwoSteps`] writes in one PostgreSQL
//! transaction ([`Database::write_in_two`]).
//!
//! A caller joins the node's waiting callers; up to [`GROUPS`] of them at a
//! time lead a group: the leader takes the waiting callers (at most
//! [`MEMBERS`]), sends `BEGIN` and every member's reads in one round trip,
//! in the order of the members' `order` (so two groups of exchanges lock
//! the codes they share in the same order; should two groups still wait
//! for each other, PostgreSQL ends one as a deadlock, and its members run
//! alone), and hands each member its rows. Each
//! member decides on its own thread ([`TwoSteps::write`] on a connection
//! that only records writes) and hands its writes back; the leader sends
//! them all with one `COMMIT` in a second round trip, tells each member
//! whether they were committed, and hands the lead to the next waiting
//! caller. A member whose write needs a read of its own, whose writes
//! claim what an earlier member's claimed ([`Written::claim`]: neither read
//! what the other wrote), or whose group failed (a statement's error rolls
//! back the whole group) runs again in a transaction of its own
//! ([`write_alone`]), so an error reaches only the caller whose write
//! raised it. A member that writes nothing has its outcome as soon as it
//! decides: what it read was read under the group's locks.
//!
//! Committing once for many callers spends one round trip, one `COMMIT`
//! and one WAL flush on what took each caller two round trips and a
//! flush of its own.

use std::collections::{HashSet, VecDeque};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{Answer, Owned, PgConn, PgDb, owned};
use crate::storage::StoreError;
use crate::storage::sql::{Conn, Param, Row, TwoSteps, write_alone};
#[cfg(doc)]
use crate::storage::sql::{Database, Written};

/// Groups under way at once on a node.
const GROUPS: usize = 2;
/// The most callers in one group.
const MEMBERS: usize = 64;

/// A statement with its parameters, owned: sent by whoever leads.
struct Statement {
    sql: &'static str,
    params: Owned,
    /// For an `INSERT`: what a unique violation is a conflict over.
    what: Option<&'static str>,
}

/// A caller, as the leader of its group sees it.
struct Member {
    /// Where its reads go among the group's.
    order: Vec<u8>,
    reads: Vec<Statement>,
    /// Tells the caller how its turn goes.
    tell: Sender<Told>,
    /// What the caller decided to write.
    decided: Receiver<Decision>,
}

/// What a caller is told.
enum Told {
    /// Lead a group, whose first member this is (the caller itself).
    Lead(Box<Member>),
    /// The rows of each of its reads; `None`: run alone.
    Read(Option<Vec<Vec<tokio_postgres::Row>>>),
    /// Whether its writes were committed; if not, run alone.
    Committed(bool),
}

/// What a caller decided.
enum Decision {
    /// To write nothing in the group.
    Nothing,
    /// To write these.
    Wrote {
        claim: Option<String>,
        writes: Vec<Statement>,
    },
}

/// How a caller's turn in a group went.
enum Turn<T> {
    /// Over, and this is its outcome.
    Done(Result<T, StoreError>),
    /// Its writes wait for the group's commit; then this is its outcome.
    Wait(T),
    /// It runs alone.
    Alone,
}

/// A node's callers waiting for a group, and how many groups are under way.
#[derive(Default)]
pub(super) struct Groups {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<Member>,
    leading: usize,
}

impl Groups {
    /// Runs `steps` in a group, or alone if it cannot.
    pub(super) fn write<S: TwoSteps>(
        &self,
        db: &PgDb,
        order: &[u8],
        reads: &[(&'static str, &[Param<'_>])],
        steps: &mut S,
    ) -> Result<S::Out, StoreError> {
        match self.join(db, order, reads, steps) {
            Some(out) => out,
            None => write_alone(db, reads, steps),
        }
    }

    /// No caller panics while holding the state, and no state is left
    /// half-changed by one that would: a poisoned lock is still good.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a turn in a group: the outcome, or `None` to run alone.
    fn join<S: TwoSteps>(
        &self,
        db: &PgDb,
        order: &[u8],
        reads: &[(&'static str, &[Param<'_>])],
        steps: &mut S,
    ) -> Option<Result<S::Out, StoreError>> {
        let (tell, told) = mpsc::channel();
        let (decide, decided) = mpsc::channel();
        let me = Member {
            order: order.to_vec(),
            reads: reads
                .iter()
                .map(|&(sql, params)| Statement {
                    sql,
                    params: owned(params),
                    what: None,
                })
                .collect(),
            tell,
            decided,
        };
        let mut lead = {
            let mut state = self.lock();
            if state.leading < GROUPS {
                state.leading += 1;
                Some(Box::new(me))
            } else {
                state.waiting.push_back(me);
                None
            }
        };
        let turn = loop {
            if let Some(me) = lead.take() {
                let mut own = Turn::Alone;
                self.lead(db, *me, &mut || {
                    own = decide_on(steps, told.recv().ok(), &decide);
                });
                break own;
            }
            match told.recv() {
                Ok(Told::Lead(me)) => lead = Some(me),
                Ok(read @ Told::Read(_)) => break decide_on(steps, Some(read), &decide),
                Ok(Told::Committed(_)) | Err(_) => break Turn::Alone,
            }
        };
        match turn {
            Turn::Done(out) => Some(out),
            Turn::Wait(out) => match told.recv() {
                Ok(Told::Committed(true)) => Some(Ok(out)),
                _ => None,
            },
            Turn::Alone => None,
        }
    }

    /// Leads a group whose first member is `me`; `own` takes the leader's
    /// own turn once every member has its rows.
    fn lead(&self, db: &PgDb, me: Member, own: &mut dyn FnMut()) {
        // Whatever happens here, the lead passes on.
        let _hand_on = HandOn(self);
        let mut group = vec![me];
        {
            let mut state = self.lock();
            let n = state.waiting.len().min(MEMBERS - 1);
            group.extend(state.waiting.drain(..n));
        }
        group.sort_by(|a, b| a.order.cmp(&b.order));
        let mut session = match db.conn() {
            Ok(session) => session,
            Err(_) => {
                for m in &group {
                    let _ = m.tell.send(Told::Read(None));
                }
                return own();
            }
        };
        let mut conn = PgConn::writing(&mut session);
        if read(&mut conn, &group).is_err() {
            conn.roll_back();
            for m in &group {
                let _ = m.tell.send(Told::Read(None));
            }
            return own();
        }
        own();
        // Each member's writes, unless an earlier one claimed the same.
        let mut claims = HashSet::new();
        let mut writers = Vec::new();
        let mut queued = Ok(());
        for m in &group {
            let Ok(Decision::Wrote { claim, writes }) = m.decided.recv() else {
                continue;
            };
            if let Some(claim) = claim
                && !claims.insert(claim)
            {
                let _ = m.tell.send(Told::Committed(false));
                continue;
            }
            for w in writes {
                queued = queued.and_then(|()| conn.queue_owned(w.sql, w.params, w.what));
            }
            writers.push(&m.tell);
        }
        let committed = queued.and_then(|()| conn.commit()).is_ok();
        if !committed {
            conn.roll_back();
        }
        for tell in writers {
            let _ = tell.send(Told::Committed(committed));
        }
    }

    /// Passes the lead to the first waiting caller, if any.
    fn hand_on(&self) {
        let mut state = self.lock();
        while let Some(next) = state.waiting.pop_front() {
            let tell = next.tell.clone();
            if tell.send(Told::Lead(Box::new(next))).is_ok() {
                return;
            }
        }
        state.leading -= 1;
    }
}

/// Passes the lead on when dropped.
struct HandOn<'g>(&'g Groups);

impl Drop for HandOn<'_> {
    fn drop(&mut self) {
        self.0.hand_on();
    }
}

/// Sends `BEGIN` and every member's reads in one round trip (where any
/// member reads), and tells each member its rows.
fn read(conn: &mut PgConn<'_>, group: &[Member]) -> Result<(), StoreError> {
    let binds: Vec<Vec<_>> = group
        .iter()
        .flat_map(|m| &m.reads)
        .map(|r| super::borrowed(&r.params))
        .collect();
    let mut sent = Vec::with_capacity(binds.len());
    for (r, params) in group.iter().flat_map(|m| &m.reads).zip(&binds) {
        sent.push(conn.sent(r.sql, params, true)?);
    }
    // Nothing to read: the `BEGIN` waits for the writes.
    let answers = if sent.is_empty() {
        Vec::new()
    } else {
        conn.flight(sent)?
    };
    let mut answers = answers.into_iter();
    let mut rows = Vec::with_capacity(group.len());
    for m in group {
        let answer: Vec<Answer> = answers.by_ref().take(m.reads.len()).collect();
        rows.push(
            answer
                .into_iter()
                .map(Answer::rows)
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    for (m, rows) in group.iter().zip(rows) {
        let _ = m.tell.send(Told::Read(Some(rows)));
    }
    Ok(())
}

/// A caller's decision on what it was `told` (its rows), handed to the
/// leader; its turn.
fn decide_on<S: TwoSteps>(
    steps: &mut S,
    told: Option<Told>,
    decide: &Sender<Decision>,
) -> Turn<S::Out> {
    let (turn, decision) = match told {
        Some(Told::Read(Some(rows))) => decision(steps, &rows),
        _ => (Turn::Alone, Decision::Nothing),
    };
    let _ = decide.send(decision);
    turn
}

/// What `steps` decide on `rows`.
fn decision<S: TwoSteps>(
    steps: &mut S,
    rows: &[Vec<tokio_postgres::Row>],
) -> (Turn<S::Out>, Decision) {
    steps.restart();
    for (query, rows) in rows.iter().enumerate() {
        for row in rows {
            if let Err(e) = steps.row(query, row) {
                return (Turn::Done(Err(e)), Decision::Nothing);
            }
        }
    }
    let mut c = Recorder::default();
    let written = steps.write(&mut c);
    if c.read {
        return (Turn::Alone, Decision::Nothing);
    }
    match written {
        Err(e) => (Turn::Done(Err(e)), Decision::Nothing),
        Ok(w) if c.writes.is_empty() => (Turn::Done(Ok(w.out)), Decision::Nothing),
        Ok(w) => (
            Turn::Wait(w.out),
            Decision::Wrote {
                claim: w.claim,
                writes: c.writes,
            },
        ),
    }
}

/// A member's connection: records the statements it sends, and fails a
/// read (the member then runs alone).
#[derive(Default)]
struct Recorder {
    writes: Vec<Statement>,
    read: bool,
}

impl Recorder {
    fn record(&mut self, sql: &'static str, params: &[Param<'_>], what: Option<&'static str>) {
        self.writes.push(Statement {
            sql,
            params: owned(params),
            what,
        });
    }

    fn reads(&mut self) -> StoreError {
        self.read = true;
        StoreError::Database("a write in a group cannot read".into())
    }
}

impl Conn for Recorder {
    fn execute(&mut self, _: &'static str, _: &[Param<'_>]) -> Result<u64, StoreError> {
        Err(self.reads())
    }

    fn send(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<(), StoreError> {
        self.record(sql, params, None);
        Ok(())
    }

    fn insert(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
        what: &'static str,
    ) -> Result<(), StoreError> {
        self.record(sql, params, Some(what));
        Ok(())
    }

    fn query(
        &mut self,
        _: &'static str,
        _: &[Param<'_>],
        _: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        Err(self.reads())
    }

    fn appended_to_feed(&mut self) -> Result<(), StoreError> {
        // Placed once committed, by `PgDb::place_changes`.
        Ok(())
    }
}

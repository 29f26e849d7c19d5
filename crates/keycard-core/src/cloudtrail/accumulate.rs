//! One worker's scan of log files: stream the records, attribute each to a principal, map its
//! event to IAM actions (mechanically or through the exceptions table), and count them with
//! the resources the record makes certain. Per-worker totals merge into one [`ScanResult`].

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::io::Read;

use chrono::{DateTime, Utc};

use crate::catalog::Catalog;
use crate::coverage::observed::RecordFacts;
use crate::usage::{ActionUsage, EvidenceSource, PrincipalUsage, UnmappedEvent, Usage, Window};

use super::dedup::Dedup;
use super::identity::{Attribution, PrincipalKey};
use super::mapping::{EventRef, Exceptions, Mapping, ResourceRule};
use super::record::Record;
use super::stats::{max_opt, min_opt};
use super::*;

/// Options resolved once per scan.
#[derive(Debug)]
pub(super) struct Prepared {
    /// Requested principals by key, with the ARN to report them under.
    wanted: Option<HashMap<PrincipalKey, String>>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    /// Event times outside `[2013-01-01, now + 1 day]` are not evidence.
    plausible: (DateTime<Utc>, DateTime<Utc>),
}

/// CloudTrail launched in November 2013: no genuine record is older.
const EARLIEST_PLAUSIBLE: i64 = 1_356_998_400; // 2013-01-01T00:00:00Z

impl Prepared {
    pub(super) fn new(opts: &ScanOptions) -> Prepared {
        let wanted = opts.principals.as_ref().map(|set| {
            set.iter()
                .filter_map(|arn| PrincipalKey::from_arn(arn).map(|k| (k, arn.clone())))
                .collect()
        });
        let earliest = DateTime::<Utc>::from_timestamp(EARLIEST_PLAUSIBLE, 0).unwrap_or_default();
        let latest = Utc::now() + chrono::Duration::days(1);
        Prepared {
            wanted,
            start: opts.start,
            end: opts.end,
            plausible: (earliest, latest),
        }
    }
}

/// How an event that no exceptions row names resolves; it depends on nothing but its
/// eventSource and eventName, so it is worked out once per scan and worker.
#[derive(Debug, Clone)]
enum Mechanical {
    /// The canonical catalog action.
    Action(&'static str),
    NoPermission,
    /// Why it has no action (the reason [`add_unmapped`] records).
    Unmapped(String),
}

/// The actions of one record: the one mechanical action, or the exceptions table's plan.
enum Planned {
    One(&'static str),
    Table(Vec<mapping::Planned>),
}

/// One worker's running totals and scratch space.
#[derive(Debug)]
pub(super) struct Accumulator {
    usage: Usage,
    pub(super) stats: FileStats,
    /// Principal ARNs reported without their IAM path (empty sessionIssuer).
    inexact: BTreeSet<String>,
    /// Inflated bytes of the current file, reused across files.
    buf: Vec<u8>,
    /// principal ARN in a record → ARN to report (None: not wanted).
    principal_cache: HashMap<String, Option<String>>,
    /// proposed action → canonical action (None: not in the catalog).
    action_cache: HashMap<String, Option<&'static str>>,
    /// eventSource → eventName → resolved mapping, for events no exceptions row names.
    event_cache: HashMap<String, HashMap<String, Mechanical>>,
    resources: Vec<String>,
}

impl Accumulator {
    pub(super) fn new() -> Self {
        Accumulator {
            usage: Usage::default(),
            stats: FileStats::default(),
            inexact: BTreeSet::new(),
            buf: Vec::new(),
            principal_cache: HashMap::new(),
            action_cache: HashMap::new(),
            event_cache: HashMap::new(),
            resources: Vec::new(),
        }
    }

    pub(super) fn merge(&mut self, other: Accumulator) {
        self.usage.merge(&other.usage);
        self.stats.merge(other.stats);
        self.inexact.extend(other.inexact);
    }

    /// Reads one file's bytes (gzip or plain) and counts its records.
    pub(super) fn scan_stream(
        &mut self,
        name: &str,
        reader: impl Read,
        prep: &Prepared,
        dedup: &Dedup,
    ) {
        self.stats.read += 1;
        let read_error = match object::read_object(reader, MAX_OBJECT_BYTES, &mut self.buf) {
            Ok(()) => None,
            Err(e @ object::ObjectReadError::TooLarge { .. }) => {
                self.stats.malformed.push(MalformedFile {
                    path: name.to_string(),
                    reason: e.to_string(),
                });
                // Up to the cap was inflated: give that memory back.
                self.buf = Vec::new();
                return;
            }
            Err(e) => Some(e.to_string()),
        };
        let buf = std::mem::take(&mut self.buf);
        let parsed = if buf.iter().all(u8::is_ascii_whitespace) && read_error.is_none() {
            Err(record::ParseFailure {
                records: 0,
                message: "empty file".to_string(),
            })
        } else {
            record::for_each_record(&buf, |rec| self.record(rec, prep, dedup))
        };
        match (read_error, parsed) {
            (None, Ok(_)) => {}
            (Some(io), Ok(n)) | (Some(io), Err(record::ParseFailure { records: n, .. })) => {
                self.stats.malformed.push(MalformedFile {
                    path: name.to_string(),
                    reason: format!("{io}; {n} records read before the break"),
                })
            }
            (None, Err(f)) => self.stats.malformed.push(MalformedFile {
                path: name.to_string(),
                reason: f.message,
            }),
        }
        self.buf = buf;
        // A pathological file should not pin its memory for the rest of the scan.
        if self.buf.capacity() > 64 << 20 {
            self.buf = Vec::new();
        }
    }

    fn record(&mut self, rec: Record<'_>, prep: &Prepared, dedup: &Dedup) {
        self.stats.events += 1;
        // Deduplicate first, so a duplicate never shows up in any other count either.
        let Some(at) = rec.event_time.get().and_then(parse_event_time) else {
            self.stats.without_time += 1;
            return;
        };
        if at < prep.plausible.0 || at > prep.plausible.1 {
            self.stats.implausible_time += 1;
            return;
        }
        if let Some(id) = rec.event_id.non_empty()
            && !dedup.first_time(at.timestamp().div_euclid(86_400), id)
        {
            self.stats.duplicates += 1;
            return;
        }
        if prep.start.is_some_and(|s| at < s) || prep.end.is_some_and(|e| at >= e) {
            self.stats.outside_window += 1;
            return;
        }
        // The span of evidence covers every event read, whoever made it: a principal that did
        // nothing during that span is evidence too.
        self.stats.earliest = min_opt(self.stats.earliest, Some(at));
        self.stats.latest = max_opt(self.stats.latest, Some(at));
        self.stats.coverage.record(
            RecordFacts {
                category: rec.event_category.get(),
                management_event: rec.management_event.0,
                read_only: rec.read_only.0,
                event_source: rec.event_source.get().unwrap_or_default(),
                event_name: rec.event_name.get().unwrap_or_default(),
                region: rec.aws_region.get().unwrap_or_default(),
                day: at.timestamp().div_euclid(86_400),
            },
            rec.resources.0.iter().filter_map(|r| {
                let r = r.get()?;
                Some((r.kind.get()?, r.arn.get()?))
            }),
        );
        match rec.event_type.get() {
            None | Some("AwsApiCall") => {}
            Some(_) => {
                self.stats.other_event_types += 1;
                return;
            }
        }
        if matches!(
            rec.event_category.get(),
            Some("NetworkActivity" | "Insight")
        ) {
            self.stats.other_event_types += 1;
            return;
        }
        let (arn, exact) = match identity::attribute(rec.user_identity.get()) {
            Attribution::Principal { arn, exact } => (arn, exact),
            Attribution::Other(kind) => {
                match self.stats.not_attributed.get_mut(kind) {
                    Some(n) => *n += 1,
                    None => {
                        self.stats.not_attributed.insert(kind.to_string(), 1);
                    }
                }
                return;
            }
        };
        let reported: Cow<'_, str> = match &prep.wanted {
            None => arn,
            Some(wanted) => {
                if !self.principal_cache.contains_key(arn.as_ref()) {
                    let hit = PrincipalKey::from_arn(&arn).and_then(|k| wanted.get(&k).cloned());
                    self.principal_cache.insert(arn.to_string(), hit);
                }
                match self
                    .principal_cache
                    .get(arn.as_ref())
                    .and_then(Option::as_deref)
                {
                    Some(r) => Cow::Borrowed(r),
                    None => {
                        self.stats.other_principals += 1;
                        return;
                    }
                }
            }
        };
        if !exact && prep.wanted.is_none() && !self.inexact.contains(reported.as_ref()) {
            self.inexact.insert(reported.to_string());
        }

        let source = rec.event_source.get().unwrap_or_default();
        let name = rec.event_name.get().unwrap_or_default();
        let params = rec.params();
        // Events no exceptions row names map to `prefix:eventName` whatever their parameters:
        // resolve each (source, name) once. The others go through the table every time.
        let mechanical = match self.event_cache.get(source).and_then(|m| m.get(name)) {
            Some(hit) => Some(hit.clone()),
            None if !Exceptions::embedded().names_event(source, name) => {
                let resolved = match Exceptions::embedded().map(EventRef {
                    source,
                    name,
                    params,
                }) {
                    Mapping::Actions(planned) => match planned.as_slice() {
                        [p] => match Catalog::embedded().action(&p.action) {
                            Some(a) => Mechanical::Action(a.name()),
                            None => Mechanical::Unmapped(format!(
                                "{} is not in the IAM action catalog",
                                p.action
                            )),
                        },
                        _ => Mechanical::Unmapped(
                            "no exceptions row, yet not one action".to_string(),
                        ),
                    },
                    Mapping::NoPermission => Mechanical::NoPermission,
                    Mapping::Unmapped(reason) => Mechanical::Unmapped(reason),
                };
                self.event_cache
                    .entry(source.to_string())
                    .or_default()
                    .insert(name.to_string(), resolved.clone());
                Some(resolved)
            }
            None => None,
        };
        let mapping = match &mechanical {
            Some(_) => None,
            None => Some(Exceptions::embedded().map(EventRef {
                source,
                name,
                params,
            })),
        };
        let denied = rec.error_code.non_empty().is_some();
        let principal = match self.usage.principals.get_mut(reported.as_ref()) {
            Some(p) => p,
            None => self
                .usage
                .principals
                .entry(reported.into_owned())
                .or_default(),
        };
        let planned = match (mechanical, mapping) {
            (Some(Mechanical::NoPermission), _) | (None, Some(Mapping::NoPermission)) => {
                self.stats.no_permission_needed += 1;
                return;
            }
            (Some(Mechanical::Unmapped(reason)), _) | (None, Some(Mapping::Unmapped(reason))) => {
                add_unmapped(principal, source, name, reason);
                return;
            }
            (Some(Mechanical::Action(action)), _) => Planned::One(action),
            (None, Some(Mapping::Actions(planned))) => Planned::Table(planned),
            (None, None) => return,
        };
        let region = rec.aws_region.get().unwrap_or_default();
        let account = rec
            .recipient_account_id
            .non_empty()
            .or_else(|| {
                rec.user_identity
                    .get()
                    .and_then(|u| u.account_id.non_empty())
            })
            .unwrap_or_default();
        let ctx = resources::Context {
            partition: resources::partition_of(region),
            region,
            account,
        };
        let call = Call {
            at,
            denied,
            params,
            listed: &rec.resources.0,
            ctx,
        };
        match planned {
            Planned::One(action) => count_action(
                principal,
                &mut self.resources,
                &call,
                action,
                &ResourceRule::Default,
                None,
            ),
            Planned::Table(planned) => {
                for p in planned {
                    let canonical = match self.action_cache.get(&p.action) {
                        Some(c) => *c,
                        None => {
                            let c = Catalog::embedded().action(&p.action).map(|a| a.name());
                            self.action_cache.insert(p.action.clone(), c);
                            c
                        }
                    };
                    let Some(action) = canonical else {
                        add_unmapped(
                            principal,
                            source,
                            name,
                            format!("{} is not in the IAM action catalog", p.action),
                        );
                        continue;
                    };
                    count_action(
                        principal,
                        &mut self.resources,
                        &call,
                        action,
                        &p.resource,
                        p.fixed.as_deref(),
                    );
                }
            }
        }
    }

    /// Final shape: windows and sources on every principal, requested principals present even
    /// when never seen, path-less role ARNs folded into the full ARN when it is known.
    pub(super) fn finish(mut self, prep: &Prepared) -> ScanResult {
        if prep.wanted.is_none() {
            fold_inexact(&mut self.usage, &self.inexact);
        }
        let start = prep.start.or(self.stats.earliest);
        let end = prep.end.or(self.stats.latest);
        let window = match (start, end) {
            (Some(start), Some(end)) if start <= end => Some(Window { start, end }),
            _ => None,
        };
        if let Some(wanted) = &prep.wanted {
            for arn in wanted.values() {
                self.usage.principals.entry(arn.clone()).or_default();
            }
        }
        for p in self.usage.principals.values_mut() {
            p.sources.insert(EvidenceSource::Cloudtrail);
            if let Some(w) = window {
                p.windows = crate::usage::merge_windows(p.windows.iter().copied().chain([w]));
            }
            p.unmapped.sort();
        }
        ScanResult {
            usage: self.usage,
            files: self.stats,
        }
    }
}

/// What one counted call contributes besides its action.
struct Call<'r, 'p> {
    at: DateTime<Utc>,
    denied: bool,
    params: Option<&'r record::RequestParameters<'p>>,
    listed: &'r [record::Obj<record::ResourceRef<'p>>],
    ctx: resources::Context<'r>,
}

/// Counts one call of `action` for `principal`, with the resources the record makes certain.
fn count_action(
    principal: &mut PrincipalUsage,
    scratch: &mut Vec<String>,
    call: &Call<'_, '_>,
    action: &'static str,
    rule: &ResourceRule,
    fixed: Option<&str>,
) {
    scratch.clear();
    resources::resources_for(
        action,
        rule,
        fixed,
        call.params,
        call.listed,
        call.ctx,
        scratch,
    );
    let map = if call.denied {
        &mut principal.denied
    } else {
        &mut principal.actions
    };
    let usage = match map.get_mut(action) {
        Some(u) => {
            u.record(call.at);
            u
        }
        None => map
            .entry(action.to_string())
            .or_insert(ActionUsage::seen_once(call.at)),
    };
    for r in scratch.drain(..) {
        if !usage.resources.contains(&r) {
            usage.resources.insert(r);
        }
    }
}

fn add_unmapped(p: &mut PrincipalUsage, source: &str, name: &str, reason: String) {
    match p
        .unmapped
        .iter_mut()
        .find(|u| u.event_source == source && u.event_name == name && u.reason == reason)
    {
        Some(u) => u.count = u.count.saturating_add(1),
        None => p.unmapped.push(UnmappedEvent {
            event_source: source.to_string(),
            event_name: name.to_string(),
            reason,
            count: 1,
        }),
    }
}

/// Merges `arn:…:role/Name` (seen without path) into the one full ARN of the same role, when
/// exactly one is known; otherwise the path-less entry stays as it is.
fn fold_inexact(usage: &mut Usage, inexact: &BTreeSet<String>) {
    for short in inexact {
        let Some(key) = PrincipalKey::from_arn(short) else {
            continue;
        };
        let full: Vec<&String> = usage
            .principals
            .keys()
            .filter(|k| *k != short && PrincipalKey::from_arn(k).as_ref() == Some(&key))
            .collect();
        if let [target] = full.as_slice() {
            let target = (*target).clone();
            if let Some(pu) = usage.principals.remove(short) {
                usage.principals.entry(target).or_default().merge(&pu);
            }
        }
    }
}

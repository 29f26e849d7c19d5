//! One record explained the way a scan would count it: the actions, their resources and the
//! exceptions row that decided it. For tests and for a person asking why an event mapped so.

use std::collections::BTreeMap;

use crate::catalog::Catalog;

use super::mapping::{EventRef, Exceptions, Mapping};
use super::record::Record;
use super::*;

/// What one record maps to, resolved against the catalog, with its resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// canonical action → resource ARNs (empty: `*`).
    Actions(BTreeMap<String, Vec<String>>),
    NoPermission,
    /// Reasons (one per action that could not be resolved, or the mapping's reason).
    Unmapped(Vec<String>),
}

/// Maps and resolves one record the way a scan does, and says which exceptions row decided it
/// (`None`: mechanical). Used by tests and for explaining a single event.
pub fn resolve_record(rec: &Record<'_>) -> (Resolved, Option<usize>) {
    let source = rec.event_source.get().unwrap_or_default();
    let name = rec.event_name.get().unwrap_or_default();
    let params = rec.params();
    let (mapping, row) = Exceptions::embedded().map_with_row(EventRef {
        source,
        name,
        params,
    });
    let planned = match mapping {
        Mapping::NoPermission => return (Resolved::NoPermission, row),
        Mapping::Unmapped(reason) => return (Resolved::Unmapped(vec![reason]), row),
        Mapping::Actions(p) => p,
    };
    let region = rec.aws_region.get().unwrap_or_default();
    let account = rec.recipient_account_id.get().unwrap_or_default();
    let ctx = resources::Context {
        partition: resources::partition_of(region),
        region,
        account,
    };
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unmapped = Vec::new();
    for p in planned {
        match Catalog::embedded().action(&p.action) {
            Some(a) => {
                let mut res = Vec::new();
                resources::resources_for(
                    a.name(),
                    &p.resource,
                    p.fixed.as_deref(),
                    params,
                    &rec.resources.0,
                    ctx,
                    &mut res,
                );
                let entry = out.entry(a.name().to_string()).or_default();
                entry.extend(res);
                entry.sort();
                entry.dedup();
            }
            None => unmapped.push(format!("{} is not in the IAM action catalog", p.action)),
        }
    }
    if out.is_empty() && !unmapped.is_empty() {
        return (Resolved::Unmapped(unmapped), row);
    }
    (Resolved::Actions(out), row)
}

//! The catalog file format (`data/iam-catalog.tsv`, written by `scripts/gen-iam-catalog`):
//! one line per service, action, resource type and condition key under a `#!` header. Apart
//! from the lookups because it changes only when the generator does, and because every rule
//! of the format is checked here, once, so the lookups can trust what they index.

use std::collections::BTreeMap;

use super::*;

impl Catalog {
    /// Parses a catalog file in the format written by `scripts/gen-iam-catalog`.
    pub fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let mut format = None;
        let mut source = None;
        let mut version = None;
        let mut updated = String::new();
        let mut services: Vec<Service> = Vec::new();

        for (idx, raw) in text.lines().enumerate() {
            let line_no = idx + 1;
            let malformed = |message: String| CatalogError::Malformed {
                line: line_no,
                message,
            };
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if let Some(meta) = line.strip_prefix("#!") {
                let (key, value) = meta
                    .trim()
                    .split_once('=')
                    .ok_or_else(|| malformed("header without `=`".into()))?;
                match key.trim() {
                    "format" => format = Some(value.trim().to_owned()),
                    "source" => source = Some(value.trim().to_owned()),
                    "version" => version = Some(value.trim().to_owned()),
                    "updated" => updated = value.trim().to_owned(),
                    _ => {} // counts and future keys are informational
                }
                continue;
            }
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split('\t');
            let kind = fields.next().unwrap_or("");
            let mut next = |what: &str| {
                fields
                    .next()
                    .ok_or_else(|| malformed(format!("missing {what}")))
            };
            if kind == "S" {
                let prefix = next("service prefix")?;
                let name = next("service name")?;
                if prefix.is_empty() || prefix.contains([':', '*', '?']) {
                    return Err(malformed(format!("invalid service prefix {prefix:?}")));
                }
                services.push(Service {
                    prefix: prefix.to_ascii_lowercase().into(),
                    name: name.into(),
                    actions: Vec::new(),
                    resource_types: Vec::new(),
                    condition_keys: Vec::new(),
                });
                continue;
            }
            let service = services
                .last_mut()
                .ok_or_else(|| malformed(format!("`{kind}` record before any service")))?;
            match kind {
                "R" => {
                    let name = next("resource type")?;
                    let arn_format = next("ARN format")?;
                    service.resource_types.push(ResourceType {
                        name: name.into(),
                        arn_format: arn_format.into(),
                    });
                }
                "C" => {
                    let name = next("condition key")?;
                    let value_type = next("condition key type")?;
                    service.condition_keys.push(ConditionKey {
                        name: name.into(),
                        value_type: value_type.into(),
                    });
                }
                "A" => {
                    let name = next("action name")?;
                    let level = next("access level")?;
                    let rts = next("resource types")?;
                    if name.is_empty() || name.contains([':', '*', '?', ',', ' ']) {
                        return Err(malformed(format!("invalid action name {name:?}")));
                    }
                    let level = AccessLevel::from_code(level)
                        .ok_or_else(|| malformed(format!("unknown access level {level:?}")))?;
                    let resource_types = rts
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| match s.strip_suffix('*') {
                            Some(name) => ActionResourceType {
                                name: name.into(),
                                required: true,
                            },
                            None => ActionResourceType {
                                name: s.into(),
                                required: false,
                            },
                        })
                        .collect();
                    service.actions.push(Action {
                        qualified: format!("{}:{}", service.prefix, name).into(),
                        split: service.prefix.len() + 1,
                        level,
                        resource_types,
                    });
                }
                other => return Err(malformed(format!("unknown record type {other:?}"))),
            }
        }

        let format = format.ok_or(CatalogError::MissingHeader("format"))?;
        if format != FORMAT {
            return Err(CatalogError::Format { found: format });
        }
        let source = source.ok_or(CatalogError::MissingHeader("source"))?;
        let version = version.ok_or(CatalogError::MissingHeader("version"))?;

        // Sorted order is what makes lookups binary searches; do not trust the file for it.
        services.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        if let Some(w) = services.windows(2).find(|w| w[0].prefix == w[1].prefix) {
            return Err(CatalogError::Malformed {
                line: 0,
                message: format!("service {} listed twice", w[0].prefix),
            });
        }
        let mut action_count = 0;
        for service in &mut services {
            service.actions.sort_by(|a, b| cmp_ci(a.name(), b.name()));
            if let Some(w) = service
                .actions
                .windows(2)
                .find(|w| cmp_ci(w[0].name(), w[1].name()) == Ordering::Equal)
            {
                return Err(CatalogError::Malformed {
                    line: 0,
                    message: format!("action {} listed twice", w[0].qualified),
                });
            }
            service
                .resource_types
                .sort_by(|a, b| cmp_ci(a.name(), b.name()));
            action_count += service.actions.len();
        }

        let mut arn_index: BTreeMap<Box<str>, Vec<(usize, usize)>> = BTreeMap::new();
        for (si, service) in services.iter().enumerate() {
            for (ri, rt) in service.resource_types.iter().enumerate() {
                if let Some(field) = arn::arn_service(rt.arn_format()) {
                    // A format whose service field is itself a variable (AWS Backup's
                    // `recoveryPoint`) can fit any ARN; it is filed under `*`.
                    let key = if field.contains("${") { "*" } else { field };
                    arn_index.entry(key.into()).or_default().push((si, ri));
                }
            }
        }

        Ok(Catalog {
            meta: CatalogMeta {
                source,
                version,
                updated,
            },
            services,
            action_count,
            arn_index,
        })
    }
}

//! IAM in memory: roles and their live policies.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::error::{AwsError, ErrorKind};
use crate::iam::{LivePolicies, RoleInfo, Roles};

use super::{error, lock};

/// IAM roles in memory.
#[derive(Debug, Default)]
pub struct MemoryRoles {
    roles: Mutex<BTreeMap<String, (RoleInfo, LivePolicies)>>,
}

impl MemoryRoles {
    /// A role named `name` under `path` of `account` (ARN `arn:aws:iam::<account>:role<path><name>`).
    pub fn add(&self, account: &str, path: &str, name: &str, live: LivePolicies) -> RoleInfo {
        let info = RoleInfo {
            name: name.to_owned(),
            arn: format!("arn:aws:iam::{account}:role{path}{name}"),
            path: path.to_owned(),
        };
        lock(&self.roles).insert(name.to_owned(), (info.clone(), live));
        info
    }

    fn find(
        &self,
        operation: &'static str,
        name: &str,
    ) -> Result<(RoleInfo, LivePolicies), AwsError> {
        lock(&self.roles).get(name).cloned().ok_or_else(|| {
            error(
                "iam",
                operation,
                ErrorKind::NotFound,
                "NoSuchEntity",
                format!("The role with name {name} cannot be found."),
            )
        })
    }
}

impl Roles for MemoryRoles {
    async fn role(&self, name: &str) -> Result<RoleInfo, AwsError> {
        Ok(self.find("GetRole", name)?.0)
    }

    async fn live_policies(&self, role_name: &str) -> Result<LivePolicies, AwsError> {
        Ok(self.find("ListRolePolicies", role_name)?.1)
    }
}

//! The cluster side of hosting, through kube: every object is sent with server-side apply
//! (field manager `kolokasi`, forced) so a re-run converges instead of conflicting, read back
//! and compared with what was sent; removal deletes exactly the application's objects, by
//! name and only while they carry the request's label, then waits for the namespace to go.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::objects::AppObjects;
use super::plan::{AppPlan, request_label};
use super::{HostingError, KubernetesPlatform};

/// The field manager of every apply.
pub const FIELD_MANAGER: &str = "kolokasi";

/// The hosting cluster. The client is made on first use (kube's client pools connections and
/// is cheap to clone), so a kubeconfig that cannot be read fails the hosting step that needs
/// it, with the reason, instead of stopping the whole process at start.
pub struct Cluster {
    platform: KubernetesPlatform,
    client: tokio::sync::OnceCell<Client>,
}

/// What an apply left in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub namespace: String,
    /// `Kind/name` of every object, the namespace first.
    pub objects: Vec<String>,
}

fn api_error(what: &str, e: kube::Error) -> HostingError {
    match e {
        kube::Error::Api(status) => HostingError::Api {
            what: what.to_string(),
            code: status.code,
            message: status.message.clone(),
        },
        other => HostingError::Unreachable {
            what: what.to_string(),
            source: Box::new(other),
        },
    }
}

/// The first place where `actual` lacks or differs from `desired` (the server may add fields:
/// defaults, status, bookkeeping; it must keep every one we sent).
pub fn first_difference(desired: &Value, actual: &Value, path: &str) -> Option<String> {
    match (desired, actual) {
        (Value::Object(d), Value::Object(a)) => d.iter().find_map(|(k, dv)| match a.get(k) {
            Some(av) => first_difference(dv, av, &format!("{path}.{k}")),
            None => Some(format!("{path}.{k}")),
        }),
        (Value::Array(d), Value::Array(a)) if d.len() == a.len() => d
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(i, (dv, av))| first_difference(dv, av, &format!("{path}[{i}]"))),
        _ if desired == actual => None,
        _ => Some(path.to_string()),
    }
}

impl Cluster {
    /// From the inventory's settings (checked here): the kubeconfig file and context, or the
    /// in-cluster service account.
    pub fn new(platform: &KubernetesPlatform) -> Result<Self, HostingError> {
        platform.validate().map_err(HostingError::Config)?;
        Ok(Self {
            platform: platform.clone(),
            client: tokio::sync::OnceCell::new(),
        })
    }

    pub fn platform(&self) -> &KubernetesPlatform {
        &self.platform
    }

    async fn client(&self) -> Result<Client, HostingError> {
        let client = self
            .client
            .get_or_try_init(|| async {
                let mut config = match &self.platform.kubeconfig {
                    Some(path) => {
                        let at = |e: &dyn std::fmt::Display| HostingError::Config(format!("{}: {e}", path.display()));
                        let file = Kubeconfig::read_from(path).map_err(|e| at(&e))?;
                        let options = KubeConfigOptions {
                            context: self.platform.context.clone(),
                            ..Default::default()
                        };
                        Config::from_custom_kubeconfig(file, &options).await.map_err(|e| at(&e))?
                    }
                    None => Config::incluster().map_err(|e| HostingError::Config(format!("in-cluster: {e}")))?,
                };
                config.connect_timeout = Some(Duration::from_secs(10));
                config.read_timeout = Some(Duration::from_secs(30));
                Client::try_from(config).map_err(|e| HostingError::Config(e.to_string()))
            })
            .await?;
        Ok(client.clone())
    }

    async fn cluster_api<K>(&self) -> Result<Api<K>, HostingError>
    where
        K: Resource<Scope = k8s_openapi::ClusterResourceScope, DynamicType = ()>,
    {
        Ok(Api::all(self.client().await?))
    }

    async fn namespaced<K>(&self, plan: &AppPlan) -> Result<Api<K>, HostingError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        Ok(Api::namespaced(self.client().await?, &plan.namespace))
    }

    /// Who a namespace belongs to: `None` if it does not exist.
    async fn namespace_owner(&self, plan: &AppPlan) -> Result<Option<(Option<String>, bool)>, HostingError> {
        let api: Api<Namespace> = self.cluster_api().await?;
        let what = format!("Namespace/{}", plan.namespace);
        let ns = api.get_opt(&plan.namespace).await.map_err(|e| api_error(&what, e))?;
        Ok(ns.map(|ns| (ns.labels().get(&request_label()).cloned(), ns.metadata.deletion_timestamp.is_some())))
    }

    /// Applies every object of the application (idempotent), then reads each back.
    pub async fn apply(&self, plan: &AppPlan) -> Result<Applied, HostingError> {
        match self.namespace_owner(plan).await? {
            Some((owner, _)) if owner.as_deref() != Some(plan.request.as_str()) => {
                return Err(HostingError::Held {
                    namespace: plan.namespace.clone(),
                    owner: owner.unwrap_or_else(|| "nobody kolokasi knows".into()),
                });
            }
            Some((_, true)) => return Err(HostingError::Terminating(plan.namespace.clone())),
            _ => {}
        }
        let o = AppObjects::build(plan);
        let mut objects = Vec::new();
        objects.push(apply_one(self.cluster_api::<Namespace>().await?, &o.namespace).await?);
        objects.push(apply_one(self.namespaced::<ResourceQuota>(plan).await?, &o.quota).await?);
        objects.push(apply_one(self.namespaced::<LimitRange>(plan).await?, &o.limits).await?);
        objects.push(apply_one(self.namespaced::<NetworkPolicy>(plan).await?, &o.default_deny).await?);
        objects.push(apply_one(self.namespaced::<NetworkPolicy>(plan).await?, &o.allow_services).await?);
        objects.push(apply_one(self.namespaced::<Ingress>(plan).await?, &o.ingress).await?);
        objects.push(apply_one(self.namespaced::<RoleBinding>(plan).await?, &o.deploy).await?);
        Ok(Applied {
            namespace: plan.namespace.clone(),
            objects,
        })
    }

    /// Deletes the application's objects (last applied first), each only if it carries this
    /// request's label, then the namespace, and waits until the namespace is gone. Nothing
    /// there is fine (never created, or removed already).
    pub async fn remove(&self, plan: &AppPlan) -> Result<Vec<String>, HostingError> {
        let mut deleted = Vec::new();
        let o = AppObjects::build(plan);
        let r = plan.request.as_str();
        deleted.extend(delete_if_ours(self.namespaced::<RoleBinding>(plan).await?, o.deploy.name_any(), r).await?);
        deleted.extend(delete_if_ours(self.namespaced::<Ingress>(plan).await?, o.ingress.name_any(), r).await?);
        deleted.extend(delete_if_ours(self.namespaced::<NetworkPolicy>(plan).await?, o.allow_services.name_any(), r).await?);
        deleted.extend(delete_if_ours(self.namespaced::<NetworkPolicy>(plan).await?, o.default_deny.name_any(), r).await?);
        deleted.extend(delete_if_ours(self.namespaced::<LimitRange>(plan).await?, o.limits.name_any(), r).await?);
        deleted.extend(delete_if_ours(self.namespaced::<ResourceQuota>(plan).await?, o.quota.name_any(), r).await?);
        deleted.extend(delete_if_ours(self.cluster_api::<Namespace>().await?, plan.namespace.clone(), r).await?);
        // A namespace is gone only when its finalizers have run: wait, so that a re-run of
        // the forward step right after an undo does not meet a terminating namespace.
        let deadline = Instant::now() + Duration::from_secs(self.platform.namespace_wait_seconds);
        let mut pause = Duration::from_millis(50);
        loop {
            match self.namespace_owner(plan).await? {
                None => return Ok(deleted),
                Some((owner, _)) if owner.as_deref() != Some(r) => return Ok(deleted), // not ours to wait for
                Some(_) if Instant::now() >= deadline => return Err(HostingError::Terminating(plan.namespace.clone())),
                Some(_) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}

impl Cluster {
    /// Reads every object of the application back and says, per `Kind/name`, where it differs
    /// from what an apply sends (`None`: as applied; `Some("missing")`: not there). For the drift
    /// check; reads only.
    pub async fn compare(&self, plan: &AppPlan) -> Result<Vec<(String, Option<String>)>, HostingError> {
        let o = AppObjects::build(plan);
        Ok(vec![
            compare_one(self.cluster_api::<Namespace>().await?, &o.namespace).await?,
            compare_one(self.namespaced::<ResourceQuota>(plan).await?, &o.quota).await?,
            compare_one(self.namespaced::<LimitRange>(plan).await?, &o.limits).await?,
            compare_one(self.namespaced::<NetworkPolicy>(plan).await?, &o.default_deny).await?,
            compare_one(self.namespaced::<NetworkPolicy>(plan).await?, &o.allow_services).await?,
            compare_one(self.namespaced::<Ingress>(plan).await?, &o.ingress).await?,
            compare_one(self.namespaced::<RoleBinding>(plan).await?, &o.deploy).await?,
        ])
    }
}

async fn compare_one<K>(api: Api<K>, object: &K) -> Result<(String, Option<String>), HostingError>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned,
{
    let what = format!("{}/{}", K::kind(&()), object.name_any());
    let Some(back) = api.get_opt(&object.name_any()).await.map_err(|e| api_error(&what, e))? else {
        return Ok((what, Some("missing".into())));
    };
    let sent = serde_json::to_value(object).expect("k8s-openapi objects serialise");
    let read = serde_json::to_value(&back).expect("k8s-openapi objects serialise");
    let difference = first_difference(&sent, &read, "").map(|path| format!("differs at {path}"));
    Ok((what, difference))
}

/// Server-side apply of one object, then a read-back that must hold everything sent.
async fn apply_one<K>(api: Api<K>, object: &K) -> Result<String, HostingError>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned,
{
    let what = format!("{}/{}", K::kind(&()), object.name_any());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&object.name_any(), &params, &Patch::Apply(object))
        .await
        .map_err(|e| api_error(&what, e))?;
    let back = api.get(&object.name_any()).await.map_err(|e| api_error(&what, e))?;
    let sent = serde_json::to_value(object).expect("k8s-openapi objects serialise");
    let read = serde_json::to_value(&back).expect("k8s-openapi objects serialise");
    match first_difference(&sent, &read, "") {
        None => Ok(what),
        Some(path) => Err(HostingError::Verify { what, path }),
    }
}

/// Deletes `name` if it exists and carries the request's label; returns what it deleted.
async fn delete_if_ours<K>(api: Api<K>, name: String, request: &str) -> Result<Option<String>, HostingError>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned,
{
    let what = format!("{}/{name}", K::kind(&()));
    let Some(found) = api.get_opt(&name).await.map_err(|e| api_error(&what, e))? else {
        return Ok(None);
    };
    if found.labels().get(&request_label()).map(String::as_str) != Some(request) {
        return Ok(None); // someone else's, or not kolokasi's at all
    }
    if found.meta().deletion_timestamp.is_some() {
        return Ok(None); // already going
    }
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(Some(what)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(api_error(&what, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::first_difference;
    use serde_json::json;

    #[test]
    fn read_back_may_add_but_not_change_or_drop() {
        let sent = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"ports": [{"port": 443}]}});
        let added =
            json!({"metadata": {"name": "a", "uid": "u", "labels": {"x": "1", "y": "2"}}, "spec": {"ports": [{"port": 443, "protocol": "TCP"}]}, "status": {}});
        assert_eq!(first_difference(&sent, &added, ""), None);
        let changed = json!({"metadata": {"name": "a", "labels": {"x": "2"}}, "spec": {"ports": [{"port": 443}]}});
        assert_eq!(first_difference(&sent, &changed, "").as_deref(), Some(".metadata.labels.x"));
        let dropped = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"ports": []}});
        assert_eq!(first_difference(&sent, &dropped, "").as_deref(), Some(".spec.ports"));
    }
}

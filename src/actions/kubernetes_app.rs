//! `kubernetes_app`: the application's namespace on the hosting cluster with its quota, limits,
//! network policies, Ingress (TLS through cert-manager) and the unit's deploy binding, all by
//! server-side apply and read back; outputs the ingress addresses the DNS step points at.
//! Undo deletes exactly those objects (only while labelled with this request) and waits for
//! the namespace to be gone.
//!
//! Idempotent: names are fixed by the request number and the application's name, and
//! server-side apply converges, so a re-run after a crash finds its own objects.

use serde_json::{Value, json};

use crate::engine::action::required;
use crate::engine::{Action, ActionCtx, BoxFuture, Outcome, Param, ParamKind, StepError};
use crate::hosting::{AppPlan, Cluster, HostingError};

pub struct KubernetesApp;

const PARAMS: &[Param] = &[
    required("domain", ParamKind::Name),
    required("app", ParamKind::Text),
    required("unit", ParamKind::Text),
    required("servers", ParamKind::Any),
];


fn cluster<'a>(ctx: &'a ActionCtx<'a>) -> Result<&'a Cluster, StepError> {
    match &ctx.env.drivers.kubernetes {
        Some(c) => Ok(c),
        None if cfg!(feature = "kubernetes") => Err(StepError::invalid(
            "no Kubernetes cluster is configured (hosting_platform.kubernetes in the inventory)",
        )),
        None => Err(StepError::invalid(HostingError::NotBuilt.to_string())),
    }
}

fn plan(ctx: &ActionCtx<'_>, cluster: &Cluster) -> Result<AppPlan, StepError> {
    AppPlan::from_params(&ctx.request.id, ctx.params, cluster.platform()).map_err(|e| StepError::invalid(e.to_string()))
}

impl Action for KubernetesApp {
    fn name(&self) -> &'static str {
        "kubernetes_app"
    }
    fn describe(&self) -> &'static str {
        "create the application's namespace, quota, policies, ingress and deploy access on Kubernetes"
    }
    fn params(&self) -> &'static [Param] {
        PARAMS
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["namespace", "objects", "ingress_v4", "ingress_v6"]
    }
    fn plan(&self, ctx: &ActionCtx<'_>) -> String {
        match cluster(ctx).and_then(|c| plan(ctx, c)) {
            Ok(p) => format!(
                "namespace {} ({} CPU, {} GB RAM, {} GB storage; ports {}) with an ingress for {} and {} {} as deployer",
                p.namespace,
                p.cpu_cores,
                p.ram_gb,
                p.storage_gb,
                p.services.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" "),
                p.domain,
                p.deploy_kind.as_str(),
                p.deploy_name
            ),
            Err(e) => format!("application namespace on Kubernetes ({e})"),
        }
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let cluster = cluster(ctx)?;
            let plan = plan(ctx, cluster)?;
            let ingress = &cluster.platform().ingress;
            let objects = apply(cluster, &plan).await?;
            Ok(Outcome::Done(json!({
                "namespace": plan.namespace,
                "objects": objects,
                "ingress_v4": ingress.ipv4.map(|a| a.to_string()),
                "ingress_v6": ingress.ipv6.map(|a| a.to_string()),
            })))
        })
    }
    fn undo<'a>(&'a self, ctx: &'a ActionCtx<'a>, _output: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            // Re-planned from the saved parameters: an undo after a crash mid-apply still finds
            // whatever part of the objects had been created.
            let cluster = cluster(ctx)?;
            let plan = plan(ctx, cluster)?;
            remove(cluster, &plan).await
        })
    }
}

#[cfg(feature = "kubernetes")]
async fn apply(cluster: &Cluster, plan: &AppPlan) -> Result<Vec<String>, StepError> {
    cluster.apply(plan).await.map(|a| a.objects).map_err(StepError::from)
}

#[cfg(feature = "kubernetes")]
async fn remove(cluster: &Cluster, plan: &AppPlan) -> Result<(), StepError> {
    cluster.remove(plan).await.map(|_| ()).map_err(StepError::from)
}

#[cfg(not(feature = "kubernetes"))]
async fn apply(_cluster: &Cluster, _plan: &AppPlan) -> Result<Vec<String>, StepError> {
    Err(StepError::from(HostingError::NotBuilt))
}

#[cfg(not(feature = "kubernetes"))]
async fn remove(_cluster: &Cluster, _plan: &AppPlan) -> Result<(), StepError> {
    Err(StepError::from(HostingError::NotBuilt))
}

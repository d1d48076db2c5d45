//! A stateful in-memory Global Accelerator, for local emulators that lack the service
//! (moto 5.2 has no Global Accelerator API). It implements [`GlobalAcceleratorApi`], so the
//! accelerator component runs the very same code over it, and behaves like the service
//! where that matters to Tandem:
//!
//! - every change puts the accelerator `IN_PROGRESS`; it reports `DEPLOYED` again after a
//!   number of describes ([`AcceleratorFake::with_settle_polls`], default 1);
//! - deleting an accelerator that is enabled (or whose disable has not deployed yet) fails
//!   with `AcceleratorNotDisabledException`; one with listeners with
//!   `AssociatedListenerFoundException`; a listener with endpoint groups with
//!   `AssociatedEndpointGroupFoundException`; a second endpoint group for a region with
//!   `EndpointGroupAlreadyExistsException`;
//! - unknown ARNs answer `AcceleratorNotFoundException` / `ListenerNotFoundException` /
//!   `EndpointGroupNotFoundException`;
//! - static IPs come from the documentation range 192.0.2.0/24 (TEST-NET-1), DNS names are
//!   `<id>.awsglobalaccelerator.com`, and an idempotency token already used returns the
//!   resource it created.
//!
//! State can be kept in a JSON file ([`AcceleratorFake::persistent`]) so that separate
//! CLI runs (apply, then destroy) see the same simulated accelerator.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tandem_core::AwsError;

use crate::common::random_token;
use crate::ga_api::{AcceleratorInfo, EndpointGroupInfo, EndpointGroupSpec, GlobalAcceleratorApi, ListenerInfo, DEPLOYED, IN_PROGRESS};

/// The account id used in simulated ARNs (moto's default account).
pub const FAKE_ACCOUNT: &str = "123456789012";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Acc {
    info: Option<AcceleratorInfo>,
    tags: Vec<(String, String)>,
    /// Describes left before the pending change is DEPLOYED.
    settling: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct FakeState {
    /// Sequence for static IPs.
    seq: u32,
    accelerators: BTreeMap<String, Acc>,
    /// listener ARN -> (accelerator ARN, listener).
    listeners: BTreeMap<String, (String, ListenerInfo)>,
    /// endpoint group ARN -> (listener ARN, group).
    groups: BTreeMap<String, (String, EndpointGroupInfo)>,
    /// idempotency token -> ARN created with it.
    tokens: BTreeMap<String, String>,
}

/// The in-memory Global Accelerator.
pub struct AcceleratorFake {
    state: Mutex<FakeState>,
    path: Option<PathBuf>,
    settle_polls: u32,
}

impl Default for AcceleratorFake {
    fn default() -> Self {
        Self::new()
    }
}

fn acc_not_found(arn: &str) -> AwsError {
    AwsError::not_found("AcceleratorNotFoundException", format!("Accelerator not found: {arn}"))
}

impl AcceleratorFake {
    /// A fake that forgets everything when dropped.
    pub fn new() -> Self {
        Self { state: Mutex::new(FakeState::default()), path: None, settle_polls: 1 }
    }

    /// A fake whose state is loaded from and saved to `path` (JSON). An unreadable file
    /// starts empty.
    pub fn persistent(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let state = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        Self { state: Mutex::new(state), path: Some(path), settle_polls: 1 }
    }

    /// How many describes a change stays `IN_PROGRESS` (0: deployed at once).
    pub fn with_settle_polls(mut self, polls: u32) -> Self {
        self.settle_polls = polls;
        self
    }

    /// Number of accelerators held (for tests).
    pub fn accelerator_count(&self) -> usize {
        self.lock().accelerators.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, st: &FakeState) -> Result<(), AwsError> {
        let Some(path) = &self.path else { return Ok(()) };
        let io = |e: std::io::Error| AwsError::other("SimulationStateError", format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let body = serde_json::to_vec_pretty(st).map_err(|e| AwsError::other("SimulationStateError", e.to_string()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, body).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Marks the accelerator owning `arn` as changing.
    fn touch(st: &mut FakeState, acc_arn: &str, polls: u32) {
        if let Some(a) = st.accelerators.get_mut(acc_arn) {
            a.settling = polls;
            if let Some(i) = a.info.as_mut() {
                i.status = if polls == 0 { DEPLOYED.into() } else { IN_PROGRESS.into() };
            }
        }
    }

    fn info(a: &Acc) -> Result<AcceleratorInfo, AwsError> {
        a.info.clone().ok_or_else(|| acc_not_found("?"))
    }
}

#[async_trait::async_trait]
impl GlobalAcceleratorApi for AcceleratorFake {
    async fn create_accelerator(&self, name: &str, idempotency_token: &str, tags: Vec<(String, String)>) -> Result<AcceleratorInfo, AwsError> {
        let mut st = self.lock();
        if let Some(arn) = st.tokens.get(idempotency_token).cloned() {
            if let Some(a) = st.accelerators.get(&arn) {
                return Self::info(a);
            }
        }
        let id = random_token(32);
        let arn = format!("arn:aws:globalaccelerator::{FAKE_ACCOUNT}:accelerator/{id}");
        st.seq = (st.seq + 1) % 120;
        let base = st.seq * 2;
        let info = AcceleratorInfo {
            arn: arn.clone(),
            name: name.to_string(),
            enabled: true,
            status: IN_PROGRESS.into(),
            dns_name: format!("{}.awsglobalaccelerator.com", &id[..16]),
            static_ips: vec![format!("192.0.2.{}", base + 1), format!("192.0.2.{}", base + 2)],
        };
        st.accelerators.insert(arn.clone(), Acc { info: Some(info), tags, settling: 0 });
        Self::touch(&mut st, &arn, self.settle_polls);
        st.tokens.insert(idempotency_token.to_string(), arn.clone());
        self.save(&st)?;
        Self::info(&st.accelerators[&arn])
    }

    async fn describe_accelerator(&self, arn: &str) -> Result<AcceleratorInfo, AwsError> {
        let mut st = self.lock();
        let a = st.accelerators.get_mut(arn).ok_or_else(|| acc_not_found(arn))?;
        if a.settling > 0 {
            a.settling -= 1;
        } else if let Some(i) = a.info.as_mut() {
            i.status = DEPLOYED.into();
        }
        let shown = Self::info(a)?;
        self.save(&st)?;
        Ok(shown)
    }

    async fn list_accelerators(&self) -> Result<Vec<AcceleratorInfo>, AwsError> {
        self.lock().accelerators.values().map(Self::info).collect()
    }

    async fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        self.lock().accelerators.get(arn).map(|a| a.tags.clone()).ok_or_else(|| acc_not_found(arn))
    }

    async fn set_accelerator_enabled(&self, arn: &str, enabled: bool) -> Result<AcceleratorInfo, AwsError> {
        let mut st = self.lock();
        let a = st.accelerators.get_mut(arn).ok_or_else(|| acc_not_found(arn))?;
        if let Some(i) = a.info.as_mut() {
            i.enabled = enabled;
        }
        Self::touch(&mut st, arn, self.settle_polls);
        self.save(&st)?;
        Self::info(&st.accelerators[arn])
    }

    async fn delete_accelerator(&self, arn: &str) -> Result<(), AwsError> {
        let mut st = self.lock();
        let a = st.accelerators.get(arn).ok_or_else(|| acc_not_found(arn))?;
        let info = Self::info(a)?;
        if info.enabled || a.settling > 0 || info.status != DEPLOYED {
            return Err(AwsError::other(
                "AcceleratorNotDisabledException",
                "The accelerator must be disabled and its status DEPLOYED before it can be deleted",
            ));
        }
        if st.listeners.values().any(|(acc, _)| acc == arn) {
            return Err(AwsError::other("AssociatedListenerFoundException", "The accelerator has listeners; delete them first"));
        }
        st.accelerators.remove(arn);
        st.tokens.retain(|_, v| v != arn);
        self.save(&st)
    }

    async fn create_listener(&self, accelerator_arn: &str, port: i32, idempotency_token: &str) -> Result<ListenerInfo, AwsError> {
        let mut st = self.lock();
        if let Some(arn) = st.tokens.get(idempotency_token).cloned() {
            if let Some((_, l)) = st.listeners.get(&arn) {
                return Ok(l.clone());
            }
        }
        if !st.accelerators.contains_key(accelerator_arn) {
            return Err(acc_not_found(accelerator_arn));
        }
        let arn = format!("{accelerator_arn}/listener/{}", random_token(8));
        let l = ListenerInfo { arn: arn.clone(), protocol: "TCP".into(), port_ranges: vec![(port, port)] };
        st.listeners.insert(arn.clone(), (accelerator_arn.to_string(), l.clone()));
        st.tokens.insert(idempotency_token.to_string(), arn);
        Self::touch(&mut st, accelerator_arn, self.settle_polls);
        self.save(&st)?;
        Ok(l)
    }

    async fn describe_listener(&self, arn: &str) -> Result<ListenerInfo, AwsError> {
        self.lock()
            .listeners
            .get(arn)
            .map(|(_, l)| l.clone())
            .ok_or_else(|| AwsError::not_found("ListenerNotFoundException", format!("Listener not found: {arn}")))
    }

    async fn list_listeners(&self, accelerator_arn: &str) -> Result<Vec<ListenerInfo>, AwsError> {
        let st = self.lock();
        if !st.accelerators.contains_key(accelerator_arn) {
            return Err(acc_not_found(accelerator_arn));
        }
        Ok(st.listeners.values().filter(|(a, _)| a == accelerator_arn).map(|(_, l)| l.clone()).collect())
    }

    async fn delete_listener(&self, arn: &str) -> Result<(), AwsError> {
        let mut st = self.lock();
        let (acc, _) = st
            .listeners
            .get(arn)
            .cloned()
            .ok_or_else(|| AwsError::not_found("ListenerNotFoundException", format!("Listener not found: {arn}")))?;
        if st.groups.values().any(|(l, _)| l == arn) {
            return Err(AwsError::other("AssociatedEndpointGroupFoundException", "The listener has endpoint groups; delete them first"));
        }
        st.listeners.remove(arn);
        st.tokens.retain(|_, v| v != arn);
        Self::touch(&mut st, &acc, self.settle_polls);
        self.save(&st)
    }

    async fn create_endpoint_group(&self, listener_arn: &str, spec: EndpointGroupSpec, idempotency_token: &str) -> Result<EndpointGroupInfo, AwsError> {
        let mut st = self.lock();
        if let Some(arn) = st.tokens.get(idempotency_token).cloned() {
            if let Some((_, g)) = st.groups.get(&arn) {
                return Ok(g.clone());
            }
        }
        let (acc, _) = st
            .listeners
            .get(listener_arn)
            .cloned()
            .ok_or_else(|| AwsError::not_found("ListenerNotFoundException", format!("Listener not found: {listener_arn}")))?;
        if st.groups.values().any(|(l, g)| l == listener_arn && g.spec.region == spec.region) {
            return Err(AwsError::other(
                "EndpointGroupAlreadyExistsException",
                format!("An endpoint group for {} already exists on this listener", spec.region),
            ));
        }
        validate(&spec)?;
        let arn = format!("{listener_arn}/endpoint-group/{}", random_token(12));
        let g = EndpointGroupInfo { arn: arn.clone(), spec };
        st.groups.insert(arn.clone(), (listener_arn.to_string(), g.clone()));
        st.tokens.insert(idempotency_token.to_string(), arn);
        Self::touch(&mut st, &acc, self.settle_polls);
        self.save(&st)?;
        Ok(g)
    }

    async fn update_endpoint_group(&self, arn: &str, spec: EndpointGroupSpec) -> Result<EndpointGroupInfo, AwsError> {
        let mut st = self.lock();
        validate(&spec)?;
        let (listener, g) = st
            .groups
            .get_mut(arn)
            .ok_or_else(|| AwsError::not_found("EndpointGroupNotFoundException", format!("Endpoint group not found: {arn}")))?;
        // The region of a group cannot change.
        let region = g.spec.region.clone();
        g.spec = EndpointGroupSpec { region, ..spec };
        let (listener, g) = (listener.clone(), g.clone());
        if let Some((acc, _)) = st.listeners.get(&listener).cloned() {
            Self::touch(&mut st, &acc, self.settle_polls);
        }
        self.save(&st)?;
        Ok(g)
    }

    async fn describe_endpoint_group(&self, arn: &str) -> Result<EndpointGroupInfo, AwsError> {
        self.lock()
            .groups
            .get(arn)
            .map(|(_, g)| g.clone())
            .ok_or_else(|| AwsError::not_found("EndpointGroupNotFoundException", format!("Endpoint group not found: {arn}")))
    }

    async fn list_endpoint_groups(&self, listener_arn: &str) -> Result<Vec<EndpointGroupInfo>, AwsError> {
        let st = self.lock();
        if !st.listeners.contains_key(listener_arn) {
            return Err(AwsError::not_found("ListenerNotFoundException", format!("Listener not found: {listener_arn}")));
        }
        Ok(st.groups.values().filter(|(l, _)| l == listener_arn).map(|(_, g)| g.clone()).collect())
    }

    async fn delete_endpoint_group(&self, arn: &str) -> Result<(), AwsError> {
        let mut st = self.lock();
        let (listener, _) = st
            .groups
            .remove(arn)
            .ok_or_else(|| AwsError::not_found("EndpointGroupNotFoundException", format!("Endpoint group not found: {arn}")))?;
        st.tokens.retain(|_, v| v != arn);
        if let Some((acc, _)) = st.listeners.get(&listener).cloned() {
            Self::touch(&mut st, &acc, self.settle_polls);
        }
        self.save(&st)
    }
}

/// The service's validation of endpoint-group settings.
fn validate(spec: &EndpointGroupSpec) -> Result<(), AwsError> {
    let bad = |m: String| Err(AwsError::other("InvalidArgumentException", m));
    if ![10, 30].contains(&spec.health_check_interval) {
        return bad(format!("HealthCheckIntervalSeconds {} must be 10 or 30", spec.health_check_interval));
    }
    if !(1..=10).contains(&spec.threshold_count) {
        return bad(format!("ThresholdCount {} must be 1-10", spec.threshold_count));
    }
    if !(0.0..=100.0).contains(&spec.traffic_dial) {
        return bad(format!("TrafficDialPercentage {} must be 0-100", spec.traffic_dial));
    }
    if !(1..=65535).contains(&spec.health_check_port) {
        return bad(format!("HealthCheckPort {} out of range", spec.health_check_port));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(region: &str) -> EndpointGroupSpec {
        EndpointGroupSpec {
            region: region.into(),
            endpoint_ids: vec![format!("arn:aws:elasticloadbalancing:{region}:123456789012:loadbalancer/net/nlb/1")],
            health_check_protocol: "TCP".into(),
            health_check_port: 443,
            health_check_interval: 10,
            threshold_count: 3,
            traffic_dial: 100.0,
        }
    }

    #[tokio::test]
    async fn accelerator_goes_in_progress_then_deployed() {
        let f = AcceleratorFake::new();
        let a = f.create_accelerator("accelerator-t", "tok1", vec![]).await.expect("create");
        assert_eq!(a.status, IN_PROGRESS);
        assert!(a.dns_name.ends_with(".awsglobalaccelerator.com"));
        assert!(a.static_ips.iter().all(|ip| ip.starts_with("192.0.2.")), "{:?}", a.static_ips);
        assert_eq!(f.describe_accelerator(&a.arn).await.expect("d1").status, IN_PROGRESS);
        assert_eq!(f.describe_accelerator(&a.arn).await.expect("d2").status, DEPLOYED);
    }

    #[tokio::test]
    async fn idempotency_token_returns_the_same_accelerator() {
        let f = AcceleratorFake::new();
        let a = f.create_accelerator("accelerator-t", "tok", vec![]).await.expect("create");
        let b = f.create_accelerator("accelerator-t", "tok", vec![]).await.expect("again");
        assert_eq!(a.arn, b.arn);
        assert_eq!(f.accelerator_count(), 1);
    }

    #[tokio::test]
    async fn refuses_to_delete_enabled_accelerator_or_one_with_listeners() {
        let f = AcceleratorFake::new().with_settle_polls(0);
        let a = f.create_accelerator("accelerator-t", "tok", vec![]).await.expect("create");
        let l = f.create_listener(&a.arn, 443, "ltok").await.expect("listener");
        let g = f.create_endpoint_group(&l.arn, spec("us-east-1"), "gtok").await.expect("group");
        assert_eq!(f.delete_accelerator(&a.arn).await.unwrap_err().code, "AcceleratorNotDisabledException");
        assert_eq!(f.delete_listener(&l.arn).await.unwrap_err().code, "AssociatedEndpointGroupFoundException");
        assert_eq!(
            f.create_endpoint_group(&l.arn, spec("us-east-1"), "other").await.unwrap_err().code,
            "EndpointGroupAlreadyExistsException"
        );
        f.delete_endpoint_group(&g.arn).await.expect("delete group");
        f.set_accelerator_enabled(&a.arn, false).await.expect("disable");
        assert_eq!(f.delete_accelerator(&a.arn).await.unwrap_err().code, "AssociatedListenerFoundException");
        f.delete_listener(&l.arn).await.expect("delete listener");
        f.delete_accelerator(&a.arn).await.expect("delete");
        assert!(f.describe_accelerator(&a.arn).await.unwrap_err().is_not_found());
        assert!(f.delete_endpoint_group(&g.arn).await.unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn disable_must_deploy_before_delete() {
        let f = AcceleratorFake::new();
        let a = f.create_accelerator("accelerator-t", "tok", vec![]).await.expect("create");
        f.describe_accelerator(&a.arn).await.expect("settle");
        f.describe_accelerator(&a.arn).await.expect("settle");
        f.set_accelerator_enabled(&a.arn, false).await.expect("disable");
        assert_eq!(f.delete_accelerator(&a.arn).await.unwrap_err().code, "AcceleratorNotDisabledException");
        assert_eq!(f.describe_accelerator(&a.arn).await.expect("settling").status, IN_PROGRESS);
        assert_eq!(f.delete_accelerator(&a.arn).await.unwrap_err().code, "AcceleratorNotDisabledException");
        assert_eq!(f.describe_accelerator(&a.arn).await.expect("settled").status, DEPLOYED);
        f.delete_accelerator(&a.arn).await.expect("delete");
    }

    #[tokio::test]
    async fn validates_endpoint_group_settings() {
        let f = AcceleratorFake::new().with_settle_polls(0);
        let a = f.create_accelerator("accelerator-t", "tok", vec![]).await.expect("create");
        let l = f.create_listener(&a.arn, 443, "ltok").await.expect("listener");
        let mut s = spec("us-east-2");
        s.health_check_interval = 15;
        assert_eq!(f.create_endpoint_group(&l.arn, s, "g").await.unwrap_err().code, "InvalidArgumentException");
    }

    #[tokio::test]
    async fn persistent_state_survives_a_new_instance() {
        let dir = std::env::temp_dir().join(format!("tandem-ga-fake-{}", random_token(8)));
        let path = dir.join("ga.json");
        let arn = {
            let f = AcceleratorFake::persistent(&path);
            f.create_accelerator("accelerator-t", "tok", vec![("tandem:stack".into(), "t".into())]).await.expect("create").arn
        };
        let f = AcceleratorFake::persistent(&path);
        assert_eq!(f.list_tags(&arn).await.expect("tags"), vec![("tandem:stack".to_string(), "t".to_string())]);
        let _ = std::fs::remove_dir_all(dir);
    }
}

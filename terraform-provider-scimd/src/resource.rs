//! One Terraform resource behaviour for every admin API object described by a `Spec`:
//! plan (replacement, unknown computed values), create, read (404 drops it from the state),
//! update (PATCH of what changed), delete (404 is done) and import.

use async_trait::async_trait;
use serde_json::{Map, Value};
use tf_provider::schema::Schema;
use tf_provider::value::{ValueAny, ValueEmpty};
use tf_provider::{AttributePath, Diagnostic, Diagnostics, Resource};

use crate::api::ApiError;
use crate::provider::Shared;
use crate::spec::{from_json, is_unknown, text, to_json, Flow, Mode, Spec, State};

pub struct ApiResource {
    pub spec: &'static Spec,
    pub api: Shared,
}

/// The body of the create request: every field sent at create whose value is known.
pub fn create_body(spec: &Spec, planned: &State) -> Map<String, Value> {
    let mut body = Map::new();
    for f in spec.fields {
        if matches!(f.flow, Flow::Both | Flow::CreateOnly) {
            if let Some(v) = planned.get(f.name).and_then(to_json) {
                body.insert(f.api_name().to_owned(), v);
            }
        }
    }
    (spec.create_extra)(&mut body);
    body
}

/// The body of the PATCH: the changeable fields whose planned value differs from the prior.
pub fn update_body(spec: &Spec, prior: &State, planned: &State) -> Map<String, Value> {
    let mut body = Map::new();
    for f in spec.fields {
        if f.flow != Flow::Both || f.replace {
            continue;
        }
        let new = planned.get(f.name);
        if new != prior.get(f.name) {
            match new.and_then(to_json) {
                Some(v) => {
                    body.insert(f.api_name().to_owned(), v);
                }
                // An optional argument taken out of the configuration is cleared (a
                // defaulted one keeps the server's value, as Terraform plans it).
                None if f.mode == Mode::Optional && new == Some(&ValueAny::Null) => {
                    body.insert(f.api_name().to_owned(), Value::Null);
                }
                None => {}
            }
        }
    }
    body
}

/// The fields whose change the API cannot make in place.
pub fn replacements(spec: &Spec, prior: &State, proposed: &State) -> Vec<&'static str> {
    spec.fields
        .iter()
        .filter(|f| f.replace && prior.get(f.name) != proposed.get(f.name))
        .map(|f| f.name)
        .collect()
}

/// The state after an answer of the API: what it returns replaces what the state held; what it
/// never returns (create-only and once-shown values, URL segments, local fields) is kept.
pub fn absorb(spec: &Spec, state: &mut State, obj: &Value) {
    for f in spec.fields {
        let take = match f.flow {
            Flow::Both | Flow::Output => true,
            // A generated password comes back at create; a chosen one never does.
            Flow::Once | Flow::CreateOnly => obj.get(f.api_name()).is_some_and(|v| !v.is_null()),
            Flow::Path | Flow::Local => false,
        };
        if take {
            state.insert(f.name.to_owned(), from_json(f.kind, obj.get(f.api_name())));
        }
    }
    state.insert("id".to_owned(), ValueAny::String((spec.tf_id)(obj, state)));
    (spec.after_read)(state, obj);
    // After an apply nothing may be left unknown; what the server did not say is null.
    for v in state.values_mut() {
        if *v == ValueAny::Unknown {
            *v = ValueAny::Null;
        }
    }
}

/// The state an import id describes (`tenant/realm/id`), for the read that follows.
pub fn import_state(spec: &Spec, id: &str) -> Result<State, String> {
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() != spec.import.len() || parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "expected an import id of the form {}, got {id:?}",
            spec.import.join("/")
        ));
    }
    let mut state = spec.empty_state();
    for (name, part) in spec.import.iter().zip(parts) {
        state.insert((*name).to_owned(), ValueAny::String(part.to_owned()));
    }
    Ok(state)
}

/// Plan-time checks of the configuration: each known value against its field's check, then
/// the resource's checks across fields.
pub fn check_config(spec: &Spec, config: &State) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    for f in spec.fields {
        let Some(v) = config.get(f.name) else {
            continue;
        };
        if matches!(v, ValueAny::Null | ValueAny::Unknown) {
            continue;
        }
        if let Some(check) = f.check {
            if let Err(e) = check(v) {
                problems.push((f.name, e));
            }
        }
    }
    problems.extend((spec.check_all)(config));
    problems
}

/// The planned state of a new object: what the server will compute is unknown until apply.
pub fn plan_new(spec: &Spec, mut proposed: State) -> State {
    for f in spec.fields {
        let unset = matches!(proposed.get(f.name), None | Some(ValueAny::Null));
        let computed = match f.mode {
            Mode::Computed => true,
            Mode::Defaulted => unset,
            Mode::Required | Mode::Optional => false,
        };
        if computed {
            proposed.insert(f.name.to_owned(), ValueAny::Unknown);
        }
    }
    proposed.insert("id".to_owned(), ValueAny::Unknown);
    proposed
}

/// The planned state of an in-place update: `updated_at` will move when anything is sent.
pub fn plan_change(spec: &Spec, prior: &State, mut proposed: State) -> State {
    if !update_body(spec, prior, &proposed).is_empty() && spec.field("updated_at").is_some() {
        proposed.insert("updated_at".to_owned(), ValueAny::Unknown);
    }
    proposed
}

impl ApiResource {
    fn client(&self, diags: &mut Diagnostics) -> Option<crate::api::Api> {
        crate::provider::client(&self.api, diags)
    }

    fn report(&self, diags: &mut Diagnostics, action: &str, e: ApiError) {
        report(self.spec, diags, action, e);
    }
}

/// A diagnostic carrying the API's problem detail, on the attribute it names.
pub fn report(spec: &Spec, diags: &mut Diagnostics, action: &str, e: ApiError) {
    let summary = format!("scimd_{}: {action} failed", spec.type_name);
    let attribute = match &e {
        ApiError::Problem { field: Some(f), .. } => spec
            .field_for_api(f)
            .map_or_else(AttributePath::root, AttributePath::new),
        _ => AttributePath::root(),
    };
    diags.add_error(Diagnostic::new(summary, e.to_string(), attribute));
}

#[async_trait]
impl Resource for ApiResource {
    type State<'a> = State;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(self.spec.schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: State) -> Option<()> {
        for (field, msg) in check_config(self.spec, &config) {
            diags.add_error(Diagnostic::new(
                format!("Invalid {field}"),
                msg,
                AttributePath::new(field),
            ));
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        let api = self.client(diags)?;
        let path = (self.spec.read_path)(&state);
        let obj = match api.get(&path).await {
            Ok(Some(obj)) => obj,
            // Gone behind Terraform's back: out of the state, so the next plan re-creates it.
            Ok(None) => return None,
            Err(e) => {
                self.report(diags, "read", e);
                return Some((state, private));
            }
        };
        let obj = match self.spec.within {
            None => obj,
            Some(list) => {
                let id = text(&state, "id").unwrap_or_default();
                let found = obj
                    .get(list)
                    .and_then(Value::as_array)
                    .and_then(|items| items.iter().find(|i| i["id"] == id))
                    .filter(|i| i["status"] != "revoked")
                    .cloned();
                found?
            }
        };
        let mut state = state;
        absorb(self.spec, &mut state, &obj);
        Some((state, private))
    }

    async fn plan_create<'a>(
        &self,
        _diags: &mut Diagnostics,
        proposed: State,
        _config: State,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        Some((plan_new(self.spec, proposed), ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: State,
        proposed: State,
        _config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty, Vec<AttributePath>)> {
        let replace = replacements(self.spec, &prior, &proposed);
        if !replace.is_empty() {
            let paths = replace.into_iter().map(AttributePath::new).collect();
            return Some((plan_new(self.spec, proposed), private, paths));
        }
        Some((
            plan_change(self.spec, &prior, proposed),
            private,
            Vec::new(),
        ))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: State,
        _config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        let api = self.client(diags)?;
        let body = Value::Object(create_body(self.spec, &planned));
        match api.post(&(self.spec.create_path)(&planned), &body).await {
            Ok(obj) => {
                let mut state = planned;
                absorb(self.spec, &mut state, &obj);
                Some((state, private))
            }
            Err(e) => {
                self.report(diags, "create", e);
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: State,
        planned: State,
        _config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        let body = update_body(self.spec, &prior, &planned);
        let mut state = planned;
        if body.is_empty() {
            // Only Terraform's own fields changed (force_destroy): nothing to send.
            for (k, v) in state.iter_mut() {
                if *v == ValueAny::Unknown {
                    *v = prior.get(k).cloned().unwrap_or(ValueAny::Null);
                }
            }
            return Some((state, private));
        }
        let api = self.client(diags)?;
        match api
            .patch(&(self.spec.write_path)(&state), &Value::Object(body))
            .await
        {
            Ok(obj) => {
                absorb(self.spec, &mut state, &obj);
                Some((state, private))
            }
            Err(e) => {
                self.report(diags, "update", e);
                Some((prior, private))
            }
        }
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: State,
        _private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        let api = self.client(diags)?;
        let path = format!(
            "{}{}",
            (self.spec.write_path)(&state),
            (self.spec.delete_query)(&state)
        );
        match api.delete(&path).await {
            Ok(()) => Some(()),
            Err(e) => {
                self.report(diags, "delete", e);
                None
            }
        }
    }

    async fn import<'a>(&self, diags: &mut Diagnostics, id: String) -> Option<(State, ValueEmpty)> {
        match import_state(self.spec, &id) {
            Ok(state) => {
                // Unknowns are not allowed in an imported state; the read fills the rest.
                debug_assert!(!state.values().any(|v| is_unknown(Some(v))));
                Some((state, ValueEmpty::default()))
            }
            Err(e) => {
                diags.root_error(format!("Cannot import scimd_{}", self.spec.type_name), e);
                None
            }
        }
    }
}

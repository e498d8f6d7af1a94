//! Approvals: answer a run's request for a human decision.

use serde_json::Value;

use crate::call::Call;
use crate::path::segment;
use crate::runs::run_path;
use crate::{Result, ZabyRuntime};

/// Approval calls, from [`ZabyRuntime::approvals`].
///
/// # Example
/// ```
/// # let mock = zaby::testing::MockTransport::new();
/// # mock.push_json("POST", "/api/v1/agent-runtime/runs/r1/approvals/a1/approve", 200, serde_json::json!({}));
/// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock.clone()).build()?;
/// let approvals = runtime.approvals();
/// approvals.approve("r1", "a1")?;
/// assert_eq!(mock.requests()[0].path, "/api/v1/agent-runtime/runs/r1/approvals/a1/approve");
/// # Ok::<(), zaby::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Approvals<'a> {
    pub(crate) client: &'a ZabyRuntime,
    pub(crate) options: crate::RequestOptions,
}

impl ZabyRuntime {
    /// Answer approval requests.
    ///
    /// # Example
    /// ```no_run
    /// # let runtime = zaby::ZabyRuntime::new("eyJhbGciOi...")?;
    /// runtime.approvals().approve("run-id", "approval-id")?;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn approvals(&self) -> Approvals<'_> {
        Approvals {
            client: self,
            options: crate::RequestOptions::default(),
        }
    }
}

impl Approvals<'_> {
    /// The same calls with these options (request id, headers, query,
    /// timeout, retries, cancel handle).
    ///
    /// # Example
    /// ```
    /// # let mock = zaby::testing::MockTransport::new();
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
    /// use zaby::RequestOptions;
    /// let calls = runtime.approvals().with_options(RequestOptions::new().request_id("req-1"));
    /// # let _ = calls;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn with_options(self, options: crate::RequestOptions) -> Self {
        Approvals { options, ..self }
    }

    /// Approves the request; the run goes on. Returns the server's JSON
    /// (`Value::Null` for an empty answer). Not retried unless the retry
    /// policy names `POST`.
    ///
    /// # Errors
    /// The API errors of [`crate::Error`]; [`crate::Error::InvalidInput`] for an
    /// empty, `.` or `..` id, before anything is sent.
    ///
    /// # Example
    /// ```
    /// # let fake = zaby::testing::MockTransport::new();
    /// # fake.push_json("POST", "/api/v1/agent-runtime/runs/r1/approvals/a1/approve", 200, serde_json::json!({"status": "approved"}));
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(fake).build()?;
    /// let answer = runtime.approvals().approve("r1", "a1")?;
    /// assert_eq!(answer["status"], "approved");
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn approve(&self, run_id: &str, approval_id: &str) -> Result<Value> {
        self.answer(run_id, approval_id, "approve")
    }

    /// Rejects the request. As [`approve`](Self::approve) otherwise.
    ///
    /// # Errors
    /// As [`approve`](Self::approve).
    ///
    /// # Example
    /// ```
    /// # let fake = zaby::testing::MockTransport::new();
    /// # fake.push_raw("POST", "/api/v1/agent-runtime/runs/r1/approvals/a1/reject", 204, vec![], "");
    /// # let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(fake).build()?;
    /// assert_eq!(runtime.approvals().reject("r1", "a1")?, serde_json::Value::Null);
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn reject(&self, run_id: &str, approval_id: &str) -> Result<Value> {
        self.answer(run_id, approval_id, "reject")
    }

    fn answer(&self, run_id: &str, approval_id: &str, verb: &str) -> Result<Value> {
        let approval = segment(approval_id, "approval id")?;
        let path = run_path(run_id, &format!("/approvals/{approval}/{verb}"))?;
        self.client
            .core
            .json_value(&Call::post(path, None::<&Value>)?.with_options(&self.options)?)
    }
}

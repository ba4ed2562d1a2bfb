package e2e

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/prepull"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// TestPrivateRegistryApp: a registry on loopback that requires basic
// auth holds an app's image. A credential Secret a former agent left in
// the pull namespace is deleted though no app has a credential. The app
// registered with its pull credential (a docker config JSON) is reported
// ready on the cluster's machine type after the agent read its manifest
// with the credential and pulled it with pull pods naming a
// dockerconfigjson Secret holding it; an app of the same registry
// without a credential is reported failed (unauthorized). A job of the
// private app gets pods whose imagePullSecrets name the job's Secret
// holding exactly the credential, owned by the job Secret, and gone once
// the job ended. An invalid credential is refused with 400 and changes
// nothing; rewriting the app without one keeps it; GET of the app (as
// its user and as the administrator), the job and the audit trail never
// show it. A /jarvice/batch job's container.pullsecret (base64) is used
// for that job alone. Then the app's credential is removed and set again
// (see credentialRemoved).
func TestPrivateRegistryApp(t *testing.T) {
	if testing.Short() {
		t.Skip("needs real control planes (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const user, password = "robot", "s3cret-pull-pass-9137"
	host := testRegistry(t, user, password)
	cred := dockerConfig(host, user, password)
	auth := remote.WithAuth(&authn.Basic{Username: user, Password: password})
	privRef, otherRef, batchRef := host+"/private/solver:1", host+"/private/other:1", host+"/private/batch:1"
	for _, ref := range []string{privRef, otherRef, batchRef} {
		pushImage(t, ref, "amd64", map[string][]byte{"etc/NAE/AppDef.json": []byte(solverAppDef)}, nil, auth)
	}

	const leftOver = "pullcred-00000000deadbeef"
	f, pulls := catalogFed(ctx, t, nodes("east", 2, "16"), func(env *k8senv.Env) {
		plantCredentialSecret(ctx, t, env, leftOver)
	}, &structs.MachineType{Name: "cpu16", Cores: 16, Slots: 16, RAM: 32, Cluster: "east", ScaleMax: 2})
	env := f.envs["east"]
	waitCond(ctx, t, "the credential Secret a former agent left is deleted", func() bool {
		_, err := env.Client.CoreV1().Secrets(prepull.DefaultNamespace).Get(ctx, leftOver, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	var def structs.AppDef
	if err := def.UnmarshalJSON([]byte(solverAppDef)); err != nil {
		t.Fatal(err)
	}
	app := func(name, image, secret string) *structs.App {
		return &structs.App{Name: name, Visibility: structs.VisibilityPublic, Image: image, AppDef: def, PullSecret: secret}
	}
	// An invalid credential: 400, nothing stored.
	for what, bad := range map[string]string{"not JSON": "robot:" + password, "no auths": `{"credHelpers":{}}`,
		"entry without credentials": `{"auths":{"` + host + `":{}}}`} {
		_, err := f.admin.PutApp(ctx, app("private", privRef, bad))
		if structs.KindOf(err) != structs.ErrInvalid || strings.Contains(err.Error(), password) {
			t.Errorf("credential %s: %v, want 400 without the document", what, err)
		}
	}
	if _, err := f.admin.GetApp(ctx, "private"); structs.KindOf(err) != structs.ErrNotFound {
		t.Fatalf("after refused writes: %v, want no app", err)
	}
	if _, err := f.admin.PutApp(ctx, app("private", privRef, cred)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.PutApp(ctx, app("other", otherRef, "")); err != nil {
		t.Fatal(err)
	}

	var cat *structs.ClusterCatalog
	waitCond(ctx, t, "east reports the private app ready and the other failed", func() bool {
		c, err := f.admin.GetCluster(ctx, "east")
		if err != nil || c.Catalog == nil {
			return false
		}
		cat = c.Catalog
		return cat.Apps["private"].MachineTypes["cpu16"].State == structs.AppReady &&
			cat.Apps["other"].MachineTypes["cpu16"].State == structs.AppFailed
	})
	if on := cat.Apps["private"].MachineTypes["cpu16"]; on.Ready != 2 || !slices.Equal(cat.Apps["private"].Platforms, []string{"linux/amd64"}) {
		t.Errorf("private app on cpu16: %+v, platforms %v", on, cat.Apps["private"].Platforms)
	}
	if why := cat.Apps["other"].MachineTypes["cpu16"].Reason; !strings.Contains(strings.ToLower(why), "unauthorized") {
		t.Errorf("app without a credential failed with %q, want unauthorized", why)
	}
	// The pull pods named a dockerconfigjson Secret holding the credential.
	secrets := pulls.pullSecrets(privRef)
	if len(secrets) != 1 {
		t.Fatalf("pull pods of %s named pull secrets %v, want one", privRef, secrets)
	}
	checkPullSecret(ctx, t, env, prepull.DefaultNamespace, secrets[0], cred)

	// Rewriting the app without a credential keeps it (an edit, a sync).
	if _, err := f.admin.PutApp(ctx, app("private", privRef, "")); err != nil {
		t.Fatal(err)
	}

	alice, aliceKey := userWithKey(ctx, t, f, "alice", "acme")
	got, err := alice.GetApp(ctx, "private")
	if err != nil || got.PullSecret != "" || !slices.Equal(got.PullSecretRegistries, []string{host}) {
		t.Errorf("alice reads the app: %+v %v, want the registry %s and no credential", got, err, host)
	}
	j := runPrivateJob(ctx, t, alice, 2)
	ns := jobPullSecretOK(ctx, t, env, j, cred)
	endJob(ctx, t, alice, j)
	waitCond(ctx, t, "the job's pull Secret goes with the job", func() bool {
		_, err := env.Client.CoreV1().Secrets(ns).Get(ctx, runtime.PullSecretName(j.Number), metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})

	// JARVICE batch: the job's own credential, base64 as JARVICE sends it.
	// The same registry and account, written another way: the job's own document.
	batchCred := `{"auths":{"` + host + `":{"username":"` + user + `","password":"` + password + `"}}}`
	_, err = f.admin.JarviceBatch(ctx, &structs.JarviceSubmit{Machine: structs.JarviceMachine{Type: "cpu16", Nodes: 1},
		User:      structs.JarviceUser{Username: "alice", APIKey: aliceKey},
		Container: &structs.JarviceContainer{Image: batchRef, Jobscript: "true", Pullsecret: "not base64 !"}})
	if structs.KindOf(err) != structs.ErrInvalid {
		t.Errorf("batch with a bad pullsecret: %v, want 400", err)
	}
	rep, err := f.admin.JarviceBatch(ctx, &structs.JarviceSubmit{Machine: structs.JarviceMachine{Type: "cpu16", Nodes: 1},
		User: structs.JarviceUser{Username: "alice", APIKey: aliceKey},
		Container: &structs.JarviceContainer{Image: batchRef, Jobscript: "true",
			Pullsecret: base64.StdEncoding.EncodeToString([]byte(batchCred))}})
	if err != nil {
		t.Fatal(err)
	}
	var bj *structs.Job
	waitCond(ctx, t, "the batch job runs", func() bool {
		l, err := alice.ListJobs(ctx, client.JobQuery{})
		if err != nil {
			return false
		}
		for _, x := range l.Jobs {
			if x.Number == rep.Number && running(x) {
				bj = x
			}
		}
		return bj != nil
	})
	jobPullSecretOK(ctx, t, env, bj, batchCred)

	credentialRemoved(ctx, t, f, alice, host, privRef, cred, secrets[0])

	// Nothing shows a credential: the apps and jobs as read through the
	// API (by the user and the administrator), and the audit trail.
	for _, c := range []struct {
		who  string
		key  string
		path string
	}{{"alice", aliceKey, "/v1/apps/private"}, {"admin", f.hubs.AdminKey, "/v1/apps/private"}, {"admin", f.hubs.AdminKey, "/v1/apps"},
		{"alice", aliceKey, "/v1/jobs/" + bj.ID}, {"alice", aliceKey, "/v1/jobs"}, {"admin", f.hubs.AdminKey, "/v1/audit"}} {
		body := rawGet(ctx, t, f.hubs.URLs()[0], c.key, c.path)
		for _, secret := range []string{password, base64.StdEncoding.EncodeToString([]byte(user + ":" + password)), "pull_secret\""} {
			if strings.Contains(body, secret) {
				t.Errorf("GET %s as %s shows %q", c.path, c.who, secret)
			}
		}
	}
	events, err := f.admin.Audit(ctx, client.AuditQuery{Object: "private"})
	actions := map[string]bool{}
	for _, ev := range events {
		actions[ev.Action] = true
	}
	if err != nil || !actions["app.create"] || !actions["app.pull-secret.remove"] || !actions["app.pull-secret.set"] {
		t.Errorf("audit events of app private: %v, %v", actions, err)
	}
}

// credentialRemoved removes the private app's pull credential (cred,
// held by the pull namespace's Secret credSecret), the app staying:
// refused attempts (a credential that is no docker config, a user who
// may not write the app, an app that does not exist) change nothing;
// once removed, GET shows no registry, the agent deletes credSecret and
// reports the image failed (unauthorized), and a new job's pods name no
// pull Secret and the job has none. Set again, the image is ready again
// and a new job's pods pull with it.
func credentialRemoved(ctx context.Context, t *testing.T, f *fed, alice *client.Client, host, privRef, cred, credSecret string) {
	t.Helper()
	env := f.envs["east"]
	before, err := f.admin.GetApp(ctx, "private")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.SetAppPullSecret(ctx, "private", `{"auths":{"`+host+`":{}}}`); structs.KindOf(err) != structs.ErrInvalid {
		t.Errorf("setting a credential without credentials: %v, want 400", err)
	}
	if _, err := alice.RemoveAppPullSecret(ctx, "private"); structs.KindOf(err) != structs.ErrForbidden {
		t.Errorf("alice removes the admin's app's credential: %v, want 403", err)
	}
	if _, err := f.admin.RemoveAppPullSecret(ctx, "nope"); structs.KindOf(err) != structs.ErrNotFound {
		t.Errorf("removing the credential of no app: %v, want 404", err)
	}
	if a, err := f.admin.GetApp(ctx, "private"); err != nil || a.ModifyIndex != before.ModifyIndex || !slices.Equal(a.PullSecretRegistries, []string{host}) {
		t.Fatalf("after refused changes: %+v %v", a, err)
	}

	if a, err := f.admin.RemoveAppPullSecret(ctx, "private"); err != nil || a.PullSecretRegistries != nil || a.Image != privRef {
		t.Fatalf("remove: %+v %v", a, err)
	}
	if a, err := alice.GetApp(ctx, "private"); err != nil || a.PullSecretRegistries != nil || a.CreateIndex != before.CreateIndex {
		t.Errorf("alice reads the app after removal: %+v %v", a, err)
	}
	waitCond(ctx, t, "the agent deletes the credential's Secret and reports the image unauthorized", func() bool {
		_, err := env.Client.CoreV1().Secrets(prepull.DefaultNamespace).Get(ctx, credSecret, metav1.GetOptions{})
		c, cerr := f.admin.GetCluster(ctx, "east")
		if !apierrors.IsNotFound(err) || cerr != nil || c.Catalog == nil {
			return false
		}
		on := c.Catalog.Apps["private"].MachineTypes["cpu16"]
		return on.State == structs.AppFailed && strings.Contains(strings.ToLower(on.Reason), "unauthorized")
	})
	j := runPrivateJob(ctx, t, alice, 1)
	ns := podgroup.TenantNamespace(podgroup.DefaultNamespacePrefix, j.Tenant)
	pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: podgroup.LabelJob + "=" + itoa(j.Number)})
	if err != nil || len(pods.Items) != 1 || len(pods.Items[0].Spec.ImagePullSecrets) != 0 {
		t.Errorf("pods of a job after removal: %+v %v, want one naming no pull Secret", pods, err)
	}
	if _, err := env.Client.CoreV1().Secrets(ns).Get(ctx, runtime.PullSecretName(j.Number), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a job after removal has a pull Secret: %v", err)
	}
	endJob(ctx, t, alice, j)

	if a, err := f.admin.SetAppPullSecret(ctx, "private", cred); err != nil || !slices.Equal(a.PullSecretRegistries, []string{host}) {
		t.Fatalf("set again: %+v %v", a, err)
	}
	waitCond(ctx, t, "the image is ready again with the credential", func() bool {
		c, err := f.admin.GetCluster(ctx, "east")
		return err == nil && c.Catalog != nil && c.Catalog.Apps["private"].MachineTypes["cpu16"].State == structs.AppReady
	})
	checkPullSecret(ctx, t, env, prepull.DefaultNamespace, credSecret, cred)
	j = runPrivateJob(ctx, t, alice, 1)
	jobPullSecretOK(ctx, t, env, j, cred)
	endJob(ctx, t, alice, j)
}

// runPrivateJob submits a job of app private on cpu16 and waits until it
// runs on east.
func runPrivateJob(ctx context.Context, t *testing.T, c *client.Client, nodes int) *structs.Job {
	t.Helper()
	j, err := c.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "private", Command: "run", MachineType: "cpu16",
		Nodes: nodes, Parameters: map[string]string{"steps": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	return waitJob(ctx, t, c, j.ID, "running on east", func(j *structs.Job) bool { return running(j) && j.Cluster == "east" })
}

// endJob terminates a job.
func endJob(ctx context.Context, t *testing.T, c *client.Client, j *structs.Job) {
	t.Helper()
	if _, err := c.TerminateJob(ctx, j.ID, "done"); err != nil {
		t.Fatal(err)
	}
}

// plantCredentialSecret makes a credential Secret in env's pull
// namespace, as an agent that ran before would have left it.
func plantCredentialSecret(ctx context.Context, t *testing.T, env *k8senv.Env, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: prepull.DefaultNamespace}}
	if _, err := env.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: prepull.DefaultNamespace,
		Labels: map[string]string{prepull.LabelCredential: "true"}}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"gone.example":{"auth":"eDp5"}}}`)}}
	if _, err := env.Client.CoreV1().Secrets(prepull.DefaultNamespace).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// jobPullSecretOK checks that every pod of job j names its pull Secret,
// which holds want, and returns the job's namespace.
func jobPullSecretOK(ctx context.Context, t *testing.T, env *k8senv.Env, j *structs.Job, want string) string {
	t.Helper()
	ns := podgroup.TenantNamespace(podgroup.DefaultNamespacePrefix, j.Tenant)
	pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: podgroup.LabelJob + "=" + itoa(j.Number)})
	if err != nil || len(pods.Items) != j.Nodes {
		t.Fatalf("pods of job %d: %d, %v", j.Number, len(pods.Items), err)
	}
	name := runtime.PullSecretName(j.Number)
	for _, p := range pods.Items {
		if len(p.Spec.ImagePullSecrets) != 1 || p.Spec.ImagePullSecrets[0].Name != name {
			t.Errorf("pod %s: imagePullSecrets %v, want %s", p.Name, p.Spec.ImagePullSecrets, name)
		}
	}
	sec := checkPullSecret(ctx, t, env, ns, name, want)
	if refs := sec.OwnerReferences; len(refs) != 1 || refs[0].Kind != "Secret" || refs[0].Name != podgroup.JobName(j.Number) {
		t.Errorf("pull Secret owners %+v, want the job Secret", refs)
	}
	return ns
}

// checkPullSecret checks that ns/name is a dockerconfigjson Secret
// holding want.
func checkPullSecret(ctx context.Context, t *testing.T, env *k8senv.Env, ns, name, want string) *corev1.Secret {
	t.Helper()
	sec, err := env.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("pull Secret %s/%s: %v", ns, name, err)
	}
	if sec.Type != corev1.SecretTypeDockerConfigJson || string(sec.Data[corev1.DockerConfigJsonKey]) != want {
		t.Errorf("pull Secret %s/%s: type %s, content differs from the credential", ns, name, sec.Type)
	}
	return sec
}

// userWithKey makes a user with an API key: a client and the key.
func userWithKey(ctx context.Context, t *testing.T, f *fed, username, tenant string) (*client.Client, string) {
	t.Helper()
	if _, err := f.admin.PutUser(ctx, username, &structs.UserSpec{Tenant: tenant, Role: structs.RoleUser}); err != nil {
		t.Fatal(err)
	}
	k, err := f.admin.CreateAPIKey(ctx, username, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	return f.clientFor(k.Key), k.Key
}

// rawGet returns the body of an authenticated GET of the hub's API.
func rawGet(ctx context.Context, t *testing.T, base, key, path string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, errors.Join(err, errors.New(string(b))))
	}
	return string(b)
}

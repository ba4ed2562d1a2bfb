package cloudtest

import (
	"net/http"
	"slices"
)

// awsAddon is an EKS add-on as the fake holds it. Unlike real EKS, the
// fake keeps a cluster's add-ons when the cluster goes, so a test sees an
// add-on down forgot.
type awsAddon struct {
	Cluster, Name, Status string
	issue                 *[2]string
	polls                 int
}

// FailAddon makes the add-on, when next created, end in status (CREATE_FAILED or
// DEGRADED) with the health issue code and message; an empty status clears it.
func (f *AWS) FailAddon(name, status, code, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if status == "" {
		delete(f.addonFaults, name)
		return
	}
	f.addonFaults[name] = [3]string{status, code, message}
}

// Addons lists the add-ons: "CLUSTER/NAME STATUS".
func (f *AWS) Addons() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k, a := range f.addons {
		out = append(out, k+" "+a.Status)
	}
	slices.Sort(out)
	return out
}

func addonJSON(a *awsAddon) map[string]any {
	m := map[string]any{"addonName": a.Name, "clusterName": a.Cluster, "status": a.Status,
		"addonArn": "arn:aws:eks:us-east-1:123456789012:addon/" + a.Cluster + "/" + a.Name}
	if a.issue != nil && (a.Status == "CREATE_FAILED" || a.Status == "DEGRADED") {
		m["health"] = map[string]any{"issues": []map[string]any{{"code": a.issue[0], "message": a.issue[1]}}}
	}
	return m
}

func (f *AWS) createAddon(w http.ResponseWriter, cluster string, body map[string]any) {
	name := str(body, "addonName")
	if f.fault(w, "CreateAddon", true) {
		return
	}
	c, ok := f.clusters[cluster]
	if !ok {
		restErr(w, 404, "ResourceNotFoundException", "No cluster found for name: "+cluster+".")
		return
	}
	if c.Status != "ACTIVE" {
		restErr(w, 400, "InvalidRequestException", "Cluster "+cluster+" is not ACTIVE")
		return
	}
	if _, ok := f.addons[cluster+"/"+name]; ok {
		restErr(w, 409, "ResourceInUseException", "Addon already exists.")
		return
	}
	a := &awsAddon{Cluster: cluster, Name: name, Status: "CREATING"}
	if ft, ok := f.addonFaults[name]; ok {
		a.issue = &[2]string{ft[1], ft[2]}
	}
	f.addons[cluster+"/"+name] = a
	f.calls = append(f.calls, "CreateAddon "+name)
	writeJSON(w, map[string]any{"addon": addonJSON(a)})
}

func (f *AWS) describeAddon(w http.ResponseWriter, cluster, name string) {
	a, ok := f.addons[cluster+"/"+name]
	if !ok {
		restErr(w, 404, "ResourceNotFoundException", "No addon: "+name+" found in cluster: "+cluster)
		return
	}
	a.polls++
	switch {
	case a.Status == "CREATING" && a.polls > f.Polls && a.issue != nil:
		a.Status = f.addonFaults[name][0]
	case a.Status == "CREATING" && a.polls > f.Polls:
		a.Status = "ACTIVE"
	case a.Status == "DELETING" && a.polls > f.Polls:
		delete(f.addons, cluster+"/"+name)
		restErr(w, 404, "ResourceNotFoundException", "No addon: "+name+" found in cluster: "+cluster)
		return
	}
	writeJSON(w, map[string]any{"addon": addonJSON(a)})
}

func (f *AWS) deleteAddon(w http.ResponseWriter, cluster, name string) {
	a, ok := f.addons[cluster+"/"+name]
	if !ok {
		restErr(w, 404, "ResourceNotFoundException", "No addon: "+name+" found in cluster: "+cluster)
		return
	}
	if a.Status != "DELETING" {
		a.Status, a.polls = "DELETING", 0
		f.calls = append(f.calls, "DeleteAddon "+name)
	}
	writeJSON(w, map[string]any{"addon": addonJSON(a)})
}

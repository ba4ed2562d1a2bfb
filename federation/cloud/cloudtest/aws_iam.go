package cloudtest

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// queryErr writes an IAM/STS (query protocol) error.
func queryErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`,
		xmlEsc(code), xmlEsc(msg))
}

func xmlEsc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func queryOK(w http.ResponseWriter, action, result string) {
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%sResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><%sResult>%s</%sResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></%sResponse>`,
		action, action, result, action, action)
}

func roleXML(name string) string {
	return fmt.Sprintf(`<Role><Path>/</Path><RoleName>%s</RoleName><RoleId>AROA%s</RoleId><Arn>arn:aws:iam::123456789012:role/%s</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate></Role>`,
		name, strings.ToUpper(name), name)
}

func (f *AWS) serveQuery(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Query().Get("Action") == "GetCallerIdentity" {
		f.callerIdentity(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		queryErr(w, 400, "MalformedInput", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.PostForm
	action, name := q.Get("Action"), q.Get("RoleName")
	if f.fault(w, action, false) {
		return
	}
	noRole := func() { queryErr(w, 404, "NoSuchEntity", "The role with name "+name+" cannot be found.") }
	switch action {
	case "CreateRole":
		if _, ok := f.roles[name]; ok {
			queryErr(w, 409, "EntityAlreadyExists", "Role with name "+name+" already exists.")
			return
		}
		f.roles[name] = nil
		f.calls = append(f.calls, "CreateRole "+name)
		queryOK(w, action, roleXML(name))
	case "GetRole":
		if _, ok := f.roles[name]; !ok {
			noRole()
			return
		}
		queryOK(w, action, roleXML(name))
	case "AttachRolePolicy":
		if _, ok := f.roles[name]; !ok {
			noRole()
			return
		}
		if arn := q.Get("PolicyArn"); !slices.Contains(f.roles[name], arn) {
			f.roles[name] = append(f.roles[name], arn)
		}
		queryOK(w, action, "")
	case "ListAttachedRolePolicies":
		pols, ok := f.roles[name]
		if !ok {
			noRole()
			return
		}
		var b strings.Builder
		for _, p := range pols {
			fmt.Fprintf(&b, "<member><PolicyName>%s</PolicyName><PolicyArn>%s</PolicyArn></member>", p[strings.LastIndex(p, "/")+1:], p)
		}
		queryOK(w, action, "<AttachedPolicies>"+b.String()+"</AttachedPolicies><IsTruncated>false</IsTruncated>")
	case "DetachRolePolicy":
		pols, ok := f.roles[name]
		if !ok {
			noRole()
			return
		}
		f.roles[name] = slices.DeleteFunc(pols, func(p string) bool { return p == q.Get("PolicyArn") })
		queryOK(w, action, "")
	case "PutRolePolicy":
		if _, ok := f.roles[name]; !ok {
			noRole()
			return
		}
		if pn := q.Get("PolicyName"); !slices.Contains(f.inline[name], pn) {
			f.inline[name] = append(f.inline[name], pn)
			f.calls = append(f.calls, "PutRolePolicy "+name+" "+pn)
		}
		queryOK(w, action, "")
	case "ListRolePolicies":
		if _, ok := f.roles[name]; !ok {
			noRole()
			return
		}
		var b strings.Builder
		for _, p := range f.inline[name] {
			fmt.Fprintf(&b, "<member>%s</member>", xmlEsc(p))
		}
		queryOK(w, action, "<PolicyNames>"+b.String()+"</PolicyNames><IsTruncated>false</IsTruncated>")
	case "DeleteRolePolicy":
		if _, ok := f.roles[name]; !ok {
			noRole()
			return
		}
		f.inline[name] = slices.DeleteFunc(f.inline[name], func(p string) bool { return p == q.Get("PolicyName") })
		queryOK(w, action, "")
	case "DeleteRole":
		pols, ok := f.roles[name]
		switch {
		case !ok:
			noRole()
			return
		case len(pols) > 0 || len(f.inline[name]) > 0:
			queryErr(w, 409, "DeleteConflict", "Cannot delete entity, must detach all policies first.")
			return
		}
		delete(f.roles, name)
		f.calls = append(f.calls, "DeleteRole "+name)
		queryOK(w, action, "")
	default:
		queryErr(w, 400, "InvalidAction", "unknown action "+action)
	}
}

// callerIdentity answers a presigned GetCallerIdentity as STS would, if
// it is presigned (a signature over the x-k8s-aws-id header).
func (f *AWS) callerIdentity(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("X-Amz-Signature") == "" || q.Get("X-Amz-Credential") == "" ||
		!slices.Contains(strings.Split(q.Get("X-Amz-SignedHeaders"), ";"), "x-k8s-aws-id") {
		queryErr(w, 403, "SignatureDoesNotMatch", "not a presigned request over x-k8s-aws-id")
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprint(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/admin</Arn><UserId>AIDAADMIN</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
}

// AuthenticateEKSToken checks an EKS bearer token as the cluster's
// authenticator does: it decodes the presigned URL, checks it is this
// fake's STS and names the cluster, and calls it. It returns the caller's
// ARN.
func (f *AWS) AuthenticateEKSToken(token, cluster string) (string, error) {
	raw, ok := strings.CutPrefix(token, "k8s-aws-v1.")
	if !ok {
		return "", fmt.Errorf("not an EKS token")
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(string(b))
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(u.String(), f.URL+"/") || u.Query().Get("Action") != "GetCallerIdentity" {
		return "", fmt.Errorf("token URL %s is not this STS", u.Redacted())
	}
	req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	req.Header.Set("x-k8s-aws-id", cluster)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Arn string `xml:"GetCallerIdentityResult>Arn"`
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("STS answered %s", resp.Status)
	}
	if err := xml.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.Arn, nil
}

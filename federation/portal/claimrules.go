package portal

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Claim rules live in the replicated state. Until an administrator first
// edits them, the configuration file's rules apply (the seed); the first
// edit stores the seed, then the edit, so every replica reads the same
// rules from then on and the file no longer matters.

// claimRules are the rules a sign-in applies now, in order.
func (p *Portal) claimRules() []ClaimRule {
	r := p.hub.Store().Read()
	if r.Index(state.TableClaimRules) == 0 {
		if p.cfg.OIDC == nil {
			return nil
		}
		return p.cfg.OIDC.Rules
	}
	stored, err := r.ClaimRules()
	if err != nil {
		p.log.Warn("reading claim rules", "error", err)
		return nil
	}
	out := make([]ClaimRule, len(stored))
	for i, c := range stored {
		out[i] = *c
	}
	return out
}

// seedClaimRules stores the configuration's rules if the state has never
// held any (each only if absent, so concurrent seeds agree).
func (p *Portal) seedClaimRules(ctx context.Context, api *client.Client) error {
	if p.hub.Store().Read().Index(state.TableClaimRules) != 0 || p.cfg.OIDC == nil {
		return nil
	}
	for i, r := range p.cfg.OIDC.Rules {
		r.Priority = 10 * i
		if _, err := api.PutClaimRule(ctx, &r, client.CAS(0)); err != nil && client.StatusOf(err) != http.StatusConflict {
			return err
		}
	}
	return nil
}

// claimRulesData is the claim rules page.
type claimRulesData struct {
	Rules  []ClaimRule
	Seeded bool // the rules shown are stored (not the file's)
}

func (p *Portal) adminClaimRules(w http.ResponseWriter, r *http.Request, s *session) error {
	return p.renderClaimRules(w, s, http.StatusOK, "", "")
}

func (p *Portal) renderClaimRules(w http.ResponseWriter, s *session, code int, msg, flash string) error {
	if err := s.id.CheckGlobalAdmin("claim rules"); err != nil {
		return err
	}
	d := &claimRulesData{Rules: p.claimRules(), Seeded: p.hub.Store().Read().Index(state.TableClaimRules) != 0}
	v := p.newView(s, "Sign-in rules", "admin", d)
	v.Error, v.Flash = msg, flash
	return p.render(w, code, "admin_claimrules.html", v)
}

// splitList reads a comma-separated form field.
func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// adminClaimRuleSave creates or replaces a rule from the page's form.
func (p *Portal) adminClaimRuleSave(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := s.id.CheckGlobalAdmin("claim rules"); err != nil {
		return err
	}
	prio, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("priority")))
	if err != nil && strings.TrimSpace(r.PostFormValue("priority")) != "" {
		return p.renderClaimRules(w, s, http.StatusBadRequest, "Priority: a whole number, lower applies first.", "")
	}
	rule := &ClaimRule{Name: strings.TrimSpace(r.PostFormValue("name")), Priority: prio,
		Email: strings.TrimSpace(r.PostFormValue("email")), Group: strings.TrimSpace(r.PostFormValue("group")),
		Tenant: strings.TrimSpace(r.PostFormValue("tenant")), Teams: splitList(r.PostFormValue("teams")),
		Role: structs.Role(r.PostFormValue("role")), Groups: splitList(r.PostFormValue("groups")),
		KeepTokenGroups: r.PostFormValue("keep_token_groups") == "on"}
	if err := rule.Validate(); err != nil {
		return p.renderClaimRules(w, s, http.StatusBadRequest, err.Error(), "")
	}
	ctx := withIdentity(r.Context(), s.id)
	if err := p.seedClaimRules(ctx, p.api); err != nil {
		return err
	}
	if _, err := p.api.PutClaimRule(ctx, rule); err != nil {
		return p.renderClaimRules(w, s, statusOf(err), err.Error(), "")
	}
	http.Redirect(w, r, Prefix+"/admin/claimrules", http.StatusSeeOther)
	return nil
}

// adminClaimRuleDelete deletes a rule.
func (p *Portal) adminClaimRuleDelete(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := s.id.CheckGlobalAdmin("claim rules"); err != nil {
		return err
	}
	ctx := withIdentity(r.Context(), s.id)
	if err := p.seedClaimRules(ctx, p.api); err != nil {
		return err
	}
	if err := p.api.DeleteClaimRule(ctx, r.PathValue("name")); err != nil {
		return hidden(err, "claim rule")
	}
	http.Redirect(w, r, Prefix+"/admin/claimrules", http.StatusSeeOther)
	return nil
}

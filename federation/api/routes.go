package api

// routes registers every endpoint.
func (s *Server) routes() {
	s.handle("GET /healthz", public, s.healthz)
	s.handle("GET /readyz", public, s.readyz)
	s.handle("/", public, s.notFound)

	// Tenancy.
	s.handle("GET /v1/tenants", users, s.listTenants)
	s.handle("GET /v1/tenants/{tenant}", users, s.getTenant)
	s.handle("PUT /v1/tenants/{tenant}", users, tenants().put)
	s.handle("DELETE /v1/tenants/{tenant}", users, tenants().delete)
	s.handle("GET /v1/tenants/{tenant}/teams", users, s.listTeams)
	s.handle("GET /v1/tenants/{tenant}/teams/{team}", users, s.getTeam)
	s.handle("PUT /v1/tenants/{tenant}/teams/{team}", users, s.putTeam)
	s.handle("DELETE /v1/tenants/{tenant}/teams/{team}", users, s.deleteTeam)
	s.handle("GET /v1/users", users, s.listUsers)
	s.handle("GET /v1/users/{username}", users, s.getUser)
	s.handle("PUT /v1/users/{username}", users, s.putUser)
	s.handle("DELETE /v1/users/{username}", users, s.deleteUser)
	s.handle("GET /v1/users/{username}/apikeys", users, s.listAPIKeys)
	s.handle("POST /v1/users/{username}/apikeys", users, s.createAPIKey)
	s.handle("DELETE /v1/users/{username}/apikeys/{id}", users, s.revokeAPIKey)
	s.handle("GET /v1/whoami", anyone, s.whoami)

	// Catalog and infrastructure.
	s.handle("GET /v1/machinetypes", anyone, s.listMachineTypes)
	s.handle("GET /v1/machinetypes/{name}", anyone, s.getMachineType)
	s.handle("PUT /v1/machinetypes/{name}", users, machineTypes().put)
	s.handle("DELETE /v1/machinetypes/{name}", users, machineTypes().delete)
	s.handle("GET /v1/clusters", users, s.listClusters)
	s.handle("GET /v1/clusters/{name}", users, s.getCluster)
	s.handle("PUT /v1/clusters/{name}", users, s.putCluster)
	s.handle("DELETE /v1/clusters/{name}", users, clusters().delete)
	s.handle("POST /v1/clusters/{name}/agentkey", users, s.createAgentKey)
	s.handle("POST /v1/clusters/{name}/bootstraptoken", users, s.createBootstrapToken)
	s.handle("POST /v1/clusters/{name}/register", public, s.registerAgent)
	s.handle("GET /v1/clusters/{name}/assignments", anyone, s.assignments)
	s.handle("POST /v1/clusters/{name}/status", anyone, s.clusterStatus)
	s.handle("GET /v1/tenants/{tenant}/vaults", users, s.listVaults)
	s.handle("GET /v1/tenants/{tenant}/vaults/{name}", anyone, s.getVault)
	s.handle("PUT /v1/tenants/{tenant}/vaults/{name}", users, s.putVault)
	s.handle("DELETE /v1/tenants/{tenant}/vaults/{name}", users, s.deleteVault)
	s.handle("GET /v1/apps", users, s.listApps)
	s.handle("GET /v1/apps/{name}", anyone, s.getApp)
	s.handle("GET /v1/apps/{name}/icon", anyone, s.getAppIcon)
	s.handle("PUT /v1/apps/{name}", users, s.putApp)
	s.handle("DELETE /v1/apps/{name}", users, s.deleteApp)
	s.handle("PUT /v1/apps/{name}/pull-secret", users, s.setAppPullSecret)
	s.handle("DELETE /v1/apps/{name}/pull-secret", users, s.removeAppPullSecret)

	// Policy.
	s.handle("GET /v1/limits", users, s.listLimits)
	s.handle("GET /v1/limits/{name}", users, s.getLimit)
	s.handle("PUT /v1/limits/{name}", users, s.putLimit)
	s.handle("DELETE /v1/limits/{name}", users, s.deleteLimit)
	s.handle("GET /v1/burstrules", users, burstRules().listAll)
	s.handle("GET /v1/burstrules/{name}", users, burstRules().getOne)
	s.handle("PUT /v1/burstrules/{name}", users, burstRules().put)
	s.handle("DELETE /v1/burstrules/{name}", users, burstRules().delete)
	s.handle("GET /v1/accessrules", users, accessRules().listAll)
	s.handle("GET /v1/accessrules/{name}", users, accessRules().getOne)
	s.handle("PUT /v1/accessrules/{name}", users, accessRules().put)
	s.handle("DELETE /v1/accessrules/{name}", users, accessRules().delete)
	s.handle("GET /v1/claimrules", users, adminsOnly("claim rules", claimRules().listAll))
	s.handle("GET /v1/claimrules/{name}", users, adminsOnly("claim rules", claimRules().getOne))
	s.handle("PUT /v1/claimrules/{name}", users, claimRules().put)
	s.handle("DELETE /v1/claimrules/{name}", users, claimRules().delete)

	// Records of what `flotilla cloud up` created.
	s.handle("GET /v1/cloud", users, adminOnly("cloud deployments", cloudDeployments().listAll))
	s.handle("GET /v1/cloud/{name}", users, adminOnly("cloud deployments", cloudDeployments().getOne))
	s.handle("PUT /v1/cloud/{name}", users, cloudDeployments().put)
	s.handle("DELETE /v1/cloud/{name}", users, cloudDeployments().delete)

	// Jobs.
	s.handle("POST /v1/jobs", users, s.submitJob)
	s.handle("POST /v1/jobs/batch", users, s.submitJobBatch)
	s.handle("GET /v1/jobs", users, s.listJobs)
	s.handle("GET /v1/jobs/{id}", users, s.getJob)
	s.handle("GET /v1/jobs/{id}/queue", users, s.jobQueue)
	s.handle("GET /v1/jobs/{id}/script", users, s.jobScript)
	s.handle("GET /v1/jobs/{id}/tasks", users, s.jobTasks)
	s.handle("POST /v1/jobs/{id}/tasks/cancel", users, s.cancelTasks)
	s.handle("GET /v1/jobs/{id}/tasks/{n}/output", users, s.taskOutput)
	s.handle("POST /v1/jobs/{id}/cancel", users, s.cancelJob)
	s.handle("POST /v1/jobs/{id}/terminate", users, s.terminateJob)
	s.handle("POST /v1/jobs/{id}/signal", users, s.signalJob)
	s.handle("POST /v1/jobs/{id}/shares", users, s.createShare)
	s.handle("GET /v1/jobs/{id}/shares", users, s.listShares)
	s.handle("DELETE /v1/jobs/{id}/shares/{name}", users, s.revokeShare)

	// Services (issue 22): service accounts, events, webhooks, triggers,
	// vault exports.
	s.handle("GET /v1/tenants/{tenant}/serviceaccounts", users, s.listServiceAccounts)
	s.handle("GET /v1/tenants/{tenant}/serviceaccounts/{name}", users, s.getServiceAccount)
	s.handle("PUT /v1/tenants/{tenant}/serviceaccounts/{name}", users, s.putServiceAccount)
	s.handle("DELETE /v1/tenants/{tenant}/serviceaccounts/{name}", users, s.deleteServiceAccount)
	s.handle("POST /v1/tenants/{tenant}/serviceaccounts/{name}/apikeys", users, s.createServiceKey)
	s.handle("DELETE /v1/tenants/{tenant}/serviceaccounts/{name}/apikeys/{id}", users, s.revokeServiceKey)
	s.handle("GET /v1/events", users, s.events)
	s.handle("GET /v1/webhooks/allowlist", users, s.getAllowList)
	s.handle("PUT /v1/webhooks/allowlist", users, s.putAllowList)
	s.handle("GET /v1/webhooks/secret", users, s.callbackSecret)
	s.handle("POST /v1/webhooks/rotate-key", users, s.rotateWebhookKey)
	s.handle("GET /v1/webhooks/subscriptions", users, s.listSubscriptions)
	s.handle("PUT /v1/webhooks/subscriptions/{name}", users, s.putSubscription)
	s.handle("DELETE /v1/webhooks/subscriptions/{name}", users, s.deleteSubscription)
	s.handle("GET /v1/webhooks/deliveries", users, s.listDeliveries)
	s.handle("POST /v1/webhooks/deliveries/{id}/retry", users, s.retryDelivery)
	s.handle("DELETE /v1/webhooks/deliveries/{id}", users, s.dropDelivery)
	s.handle("GET /v1/triggers", users, s.listTriggers)
	s.handle("GET /v1/triggers/{name}", users, s.getTrigger)
	s.handle("PUT /v1/triggers/{name}", users, s.putTrigger)
	s.handle("DELETE /v1/triggers/{name}", users, s.deleteTrigger)
	s.handle("POST /v1/triggers/{name}/fire", users, s.fireTrigger)
	s.handle("GET /v1/tenants/{tenant}/vaults/{name}/exports", users, s.listVaultExports)
	s.handle("PUT /v1/tenants/{tenant}/vaults/{name}/exports/{namespace}", users, s.putVaultExport)
	s.handle("DELETE /v1/tenants/{tenant}/vaults/{name}/exports/{namespace}", users, s.deleteVaultExport)
	s.handle("GET /v1/clusters/{name}/vaultexports", anyone, s.clusterVaultExports)
	s.handle("GET /v1/clusters/{name}/catalog", anyone, s.agentCatalog)

	// JARVICE-compatible surface: every endpoint by GET and POST (query,
	// form or JSON body); handlers authenticate username + apikey.
	for name, h := range map[string]handler{
		"submit": s.jarviceSubmit, "batch": s.jarviceBatch, "validate": s.jarviceValidate,
		"status": s.jarviceStatus, "jobs": s.jarviceJobs, "teamjobs": s.jarviceTeamJobs,
		"info": s.jarviceInfo, "connect": s.jarviceConnect, "output": s.jarviceOutput, "tail": s.jarviceTail,
		"shutdown": s.jarviceShutdown, "terminate": s.jarviceTerminate, "signal": s.jarviceSignal,
		"action": s.jarviceAction, "events": s.jarviceEvents, "metrics": s.jarviceMetrics,
		"apps": s.jarviceApps, "appdef": s.jarviceAppDef, "machines": s.jarviceMachines,
		"queues": s.jarviceQueues, "teamusers": s.jarviceTeamUsers, "projects": s.jarviceProjects,
		"vault": s.jarviceVault, "history": s.jarviceHistory, "live": s.jarviceLive, "ready": s.jarviceReady,
		"billing": s.jarviceBilling, "audit": s.jarviceAudit, "license": s.jarviceLicense,
		"screenshot": s.jarviceScreenshot, "pull": s.jarvicePull, "build": s.jarviceBuild,
	} {
		s.handle("GET /jarvice/"+name, public, h)
		s.handle("POST /jarvice/"+name, public, h)
	}

	// Operations: accounting and the audit trail.
	s.handle("GET /v1/accounting", users, s.accountingReport)
	s.handle("GET /v1/audit", users, s.auditTrail)

	// Hub replicas (raft membership).
	s.handle("GET /v1/replicas", users, s.listReplicas)
	s.handle("DELETE /v1/replicas/{id}", users, s.removeReplica)
	s.handle("GET /v1/snapshot", users, s.snapshot)

	// Replica to replica.
	s.handle("POST "+InternalApplyPath, internal, s.internalApply)
	s.handle("POST "+InternalApplyBatchPath, internal, s.internalApplyBatch)
	s.handle("POST "+InternalReadIndexPath, internal, s.internalReadIndex)
	s.handle("POST "+InternalJoinPath, internal, s.internalJoin)
	s.handle("POST "+InternalRemovePath, internal, s.internalRemove)
}

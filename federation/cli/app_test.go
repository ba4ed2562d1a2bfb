package cli

import "testing"

// TestAppValidate checks AppDef files offline with the hub's validator:
// a valid one exits 0; an invalid one exits with the usage code and lists
// every error with its JSON path.
func TestAppValidate(t *testing.T) {
	good := writeFile(t, "AppDef.json", appDefJSON)
	runCLI(t, nil, "app", "validate", good).check(t, ExitOK, "AppDef.json: valid")
	bad := writeFile(t, "bad.json", `{"name":"x","vault-types":["TAPE"],"extra":1,
		"commands":{"Run":{"path":"run.sh","parameters":{"n":{"type":"INT","min":5,"max":1}}}}}`)
	runCLI(t, nil, "app", "validate", bad).check(t, ExitUsage,
		`$["vault-types"][0]: unknown vault type "TAPE"`,
		`$.commands.Run.path: path "run.sh" must be absolute`,
		`$.commands.Run.parameters.n: min 5 is greater than max 1`,
		`warning: $.extra: unknown field, kept unchanged`,
		"3 errors")
	runCLI(t, nil, "app", "validate").check(t, ExitUsage)
}

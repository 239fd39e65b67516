// Package bouncer is the module root, kept for Google Cloud's Go functions
// buildpack (`gcloud run deploy --source . --function validate`): it parses
// only the root directory for the function package, and uses its declarative
// template only when that package imports the functions package. Importing
// function/ registers validate, mutate and healthz.
package bouncer

import (
	_ "bouncer.dev/bouncer/function"
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"
)

package main

import "encoding/json"

// schemaJSON is a minimal package schema: command:remote:Command and its types, nothing else of the
// real package (no local:*, no CopyToRemote, no functions, no proxy connection).
func schemaJSON() string {
	str := map[string]any{"type": "string"}
	secretStr := map[string]any{"type": "string", "secret": true}
	connection := map[string]any{
		"description": "Instructions for how to connect to a remote endpoint.",
		"type":        "object",
		"properties": map[string]any{
			"host":               str,
			"port":               map[string]any{"type": "number", "default": defaultPort},
			"user":               map[string]any{"type": "string", "default": defaultUser},
			"password":           secretStr,
			"privateKey":         secretStr,
			"privateKeyPassword": secretStr,
			"hostKey":            str,
			"dialErrorLimit":     map[string]any{"type": "integer", "default": defaultDialErrorLimit},
			"perDialTimeout":     map[string]any{"type": "integer", "default": defaultPerDialTimeout},
		},
		"required": []string{"host"},
	}
	logging := map[string]any{
		"type": "string",
		"enum": []map[string]any{
			{"name": "stdout", "value": "stdout"}, {"name": "stderr", "value": "stderr"},
			{"name": "stdoutAndStderr", "value": "stdoutAndStderr"}, {"name": "none", "value": "none"},
		},
	}
	inputs := map[string]any{
		"connection":             map[string]any{"$ref": "#/types/command:remote:Connection", "secret": true},
		"create":                 str,
		"update":                 str,
		"delete":                 str,
		"stdin":                  str,
		"environment":            map[string]any{"type": "object", "additionalProperties": str},
		"triggers":               map[string]any{"type": "array", "items": map[string]any{"$ref": "pulumi.json#/Any"}, "replaceOnChanges": true},
		"logging":                map[string]any{"$ref": "#/types/command:remote:Logging"},
		"addPreviousOutputInEnv": map[string]any{"type": "boolean"},
	}
	outputs := map[string]any{"stdout": str, "stderr": str}
	for k, v := range inputs {
		outputs[k] = v
	}
	schema := map[string]any{
		"name":        "command",
		"displayName": "Command",
		"version":     version,
		"description": "Stand-in for the command provider: command:remote:Command only (see the project's README).",
		"meta":        map[string]any{"moduleFormat": "(.*)"},
		"types": map[string]any{
			"command:remote:Connection": connection,
			"command:remote:Logging":    logging,
		},
		"resources": map[string]any{
			commandType: map[string]any{
				"description":     "A command to run on a remote host. The connection is established via ssh.",
				"inputProperties": inputs,
				"requiredInputs":  []string{"connection"},
				"properties":      outputs,
				"required":        []string{"connection", "stdout", "stderr"},
			},
		},
	}
	b, err := json.Marshal(schema)
	if err != nil {
		panic(err)
	}
	return string(b)
}

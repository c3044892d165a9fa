package main

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Input properties of command:remote:Command (the subset this stand-in implements).
var inputKeys = []string{
	"connection", "create", "update", "delete", "stdin", "environment", "triggers", "logging",
	"addPreviousOutputInEnv",
}

// Connection properties this stand-in understands. `proxy` and `agentSocketPath` are refused by Check.
var connectionKeys = map[string]bool{
	"host": true, "port": true, "user": true, "password": true, "privateKey": true,
	"privateKeyPassword": true, "hostKey": true, "dialErrorLimit": true, "perDialTimeout": true,
}

// Defaults of the real provider (its Connection annotations; the npm SDK applies the same ones).
const (
	defaultUser           = "root"
	defaultPort           = 22
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15
)

var loggingValues = map[string]bool{"stdout": true, "stderr": true, "stdoutAndStderr": true, "none": true}

// plain strips secret wrappers, at any depth (secretness does not make a value different).
func plain(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]resource.PropertyValue, len(arr))
		for i, e := range arr {
			out[i] = plain(e)
		}
		return resource.NewArrayProperty(out)
	case v.IsObject():
		return resource.NewObjectProperty(plainMap(v.ObjectValue()))
	}
	return v
}

func plainMap(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		out[k] = plain(v)
	}
	return out
}

// present reports a key that is set to something other than null.
func present(m resource.PropertyMap, key string) bool {
	v, ok := m[resource.PropertyKey(key)]
	return ok && !v.IsNull()
}

// checkInputs validates the inputs and applies the connection defaults, keeping secret and unknown
// values as they came (an unknown value is only known at update time: it is not validated).
func checkInputs(news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	out := news.Copy()
	var failures []*pulumirpc.CheckFailure
	fail := func(prop, format string, args ...any) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: prop, Reason: fmt.Sprintf(format, args...)})
	}

	conn, ok := news["connection"]
	switch {
	case !ok || conn.IsNull():
		fail("connection", "missing required property 'connection'")
	case conn.ContainsUnknowns() && !plain(conn).IsObject():
		// the whole object is unknown at preview: nothing to check or default
	case !plain(conn).IsObject():
		fail("connection", "'connection' must be an object")
	default:
		secret := conn.IsSecret()
		inner := conn
		if secret {
			inner = conn.SecretValue().Element
		}
		if !inner.IsObject() {
			fail("connection", "'connection' must be an object")
			break
		}
		obj := inner.ObjectValue().Copy()
		for k := range obj {
			if k == "proxy" || k == "agentSocketPath" {
				if !obj[k].IsNull() {
					fail("connection."+string(k), "connection.%s is not supported by this stand-in provider (see its README)", k)
				}
			} else if !connectionKeys[string(k)] {
				fail("connection."+string(k), "unknown connection property %q", k)
			}
		}
		if h := obj["host"]; h.IsNull() {
			fail("connection.host", "missing required property 'connection.host'")
		} else if p := plain(h); !p.IsComputed() && (!p.IsString() || p.StringValue() == "") {
			fail("connection.host", "connection.host must be a non-empty string")
		}
		for _, s := range []string{"user", "password", "privateKey", "privateKeyPassword", "hostKey"} {
			if p := plain(obj[resource.PropertyKey(s)]); !p.IsNull() && !p.IsComputed() && !p.IsString() {
				fail("connection."+s, "connection.%s must be a string", s)
			}
		}
		for _, n := range []string{"port", "dialErrorLimit", "perDialTimeout"} {
			if p := plain(obj[resource.PropertyKey(n)]); !p.IsNull() && !p.IsComputed() &&
				(!p.IsNumber() || p.NumberValue() != math.Trunc(p.NumberValue())) {
				fail("connection."+n, "connection.%s must be a whole number", n)
			}
		}
		if p := plain(obj["port"]); p.IsNumber() && (p.NumberValue() < 1 || p.NumberValue() > 65535) {
			fail("connection.port", "connection.port must be between 1 and 65535")
		}
		if p := plain(obj["dialErrorLimit"]); p.IsNumber() && p.NumberValue() < -1 {
			fail("connection.dialErrorLimit", "connection.dialErrorLimit must be -1 (unlimited) or more")
		}
		if p := plain(obj["perDialTimeout"]); p.IsNumber() && p.NumberValue() < 0 {
			fail("connection.perDialTimeout", "connection.perDialTimeout must be 0 (no maximum) or more")
		}
		if p := plain(obj["hostKey"]); p.IsString() {
			if _, err := parseHostKey(p.StringValue()); err != nil {
				fail("connection.hostKey", "%v", err)
			}
		}
		setDefault := func(k string, v resource.PropertyValue) {
			if obj[resource.PropertyKey(k)].IsNull() {
				obj[resource.PropertyKey(k)] = v
			}
		}
		setDefault("user", resource.NewStringProperty(defaultUser))
		setDefault("port", resource.NewNumberProperty(defaultPort))
		setDefault("dialErrorLimit", resource.NewNumberProperty(defaultDialErrorLimit))
		setDefault("perDialTimeout", resource.NewNumberProperty(defaultPerDialTimeout))
		v := resource.NewObjectProperty(obj)
		if secret {
			v = resource.MakeSecret(v)
		}
		out["connection"] = v
	}

	for _, s := range []string{"create", "update", "delete", "stdin", "logging"} {
		if p := plain(news[resource.PropertyKey(s)]); !p.IsNull() && !p.IsComputed() && !p.IsString() {
			fail(s, "%s must be a string", s)
		}
	}
	if p := plain(news["logging"]); p.IsString() && !loggingValues[p.StringValue()] {
		fail("logging", "logging must be one of stdout, stderr, stdoutAndStderr, none (got %q)", p.StringValue())
	}
	if p := plain(news["addPreviousOutputInEnv"]); !p.IsNull() && !p.IsComputed() && !p.IsBool() {
		fail("addPreviousOutputInEnv", "addPreviousOutputInEnv must be a boolean")
	}
	if p := plain(news["environment"]); !p.IsNull() && !p.IsComputed() {
		if !p.IsObject() {
			fail("environment", "environment must be a map of strings")
		} else {
			for k, v := range p.ObjectValue() {
				if !v.IsNull() && !v.IsComputed() && !v.IsString() {
					fail("environment."+string(k), "environment values must be strings")
				}
			}
		}
	}
	if p := plain(news["triggers"]); !p.IsNull() && !p.IsComputed() && !p.IsArray() {
		fail("triggers", "triggers must be a list")
	}
	known := map[string]bool{}
	for _, k := range inputKeys {
		known[k] = true
	}
	for k := range news {
		if !known[string(k)] && !(len(k) > 2 && k[:2] == "__") {
			fail(string(k), "unknown property %q of command:remote:Command", k)
		}
	}
	sort.Slice(failures, func(i, j int) bool { return failures[i].Property < failures[j].Property })
	return out, failures
}

// inputsOf keeps only the input properties of a state (drops stdout and stderr).
func inputsOf(state resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for _, k := range inputKeys {
		if v, ok := state[resource.PropertyKey(k)]; ok {
			out[resource.PropertyKey(k)] = v
		}
	}
	return out
}

// diffInputs compares old and new inputs key by key, ignoring secretness: a change of `triggers`
// replaces the resource, any other change updates it in place.
func diffInputs(olds, news resource.PropertyMap, ignore []string) *pulumirpc.DiffResponse {
	ignored := map[string]bool{}
	for _, k := range ignore {
		ignored[k] = true
	}
	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		DetailedDiff:    map[string]*pulumirpc.PropertyDiff{},
		HasDetailedDiff: true,
	}
	for _, k := range inputKeys {
		if ignored[k] {
			continue
		}
		o, n := plain(olds[resource.PropertyKey(k)]), plain(news[resource.PropertyKey(k)])
		var kind pulumirpc.PropertyDiff_Kind
		switch {
		case o.IsNull() && n.IsNull():
			continue
		case o.IsNull():
			kind = pulumirpc.PropertyDiff_ADD
		case n.IsNull():
			kind = pulumirpc.PropertyDiff_DELETE
		case !n.ContainsUnknowns() && o.DeepEquals(n):
			continue
		default:
			kind = pulumirpc.PropertyDiff_UPDATE
		}
		if k == "triggers" {
			kind += pulumirpc.PropertyDiff_ADD_REPLACE - pulumirpc.PropertyDiff_ADD // X -> X_REPLACE
			resp.Replaces = append(resp.Replaces, k)
		}
		resp.Diffs = append(resp.Diffs, k)
		resp.DetailedDiff[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	if len(resp.Diffs) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp
}

// commandArgs are the inputs as plain values, ready to run (only once everything is known).
type commandArgs struct {
	conn                   connection
	create, update, delete *string
	stdin                  string
	environment            map[string]string
	logStdout, logStderr   bool
	addPreviousOutputInEnv bool
	prevStdout, prevStderr string
}

type connection struct {
	host, user                     string
	port                           int
	privateKey, privateKeyPassword *string
	password                       *string
	hostKey                        *string
	dialErrorLimit, perDialTimeout int
}

func optString(m resource.PropertyMap, k string) *string {
	v := plain(m[resource.PropertyKey(k)])
	if v.IsString() {
		s := v.StringValue()
		return &s
	}
	return nil
}

func optInt(m resource.PropertyMap, k string, def int) int {
	v := plain(m[resource.PropertyKey(k)])
	if v.IsNumber() {
		return int(v.NumberValue())
	}
	return def
}

// parseArgs reads the (checked) inputs, or a state, into plain values.
func parseArgs(props resource.PropertyMap) (commandArgs, error) {
	if plainMap(props).ContainsUnknowns() {
		return commandArgs{}, errors.New("inputs contain unknown values")
	}
	a := commandArgs{
		create: optString(props, "create"),
		update: optString(props, "update"),
		delete: optString(props, "delete"),
		// The real provider: stdout and stderr are logged unless `logging` says otherwise.
		logStdout: true, logStderr: true, addPreviousOutputInEnv: true,
	}
	if s := optString(props, "stdin"); s != nil {
		a.stdin = *s
	}
	if s := optString(props, "logging"); s != nil {
		a.logStdout = *s == "stdout" || *s == "stdoutAndStderr"
		a.logStderr = *s == "stderr" || *s == "stdoutAndStderr"
	}
	if v := plain(props["addPreviousOutputInEnv"]); v.IsBool() {
		a.addPreviousOutputInEnv = v.BoolValue()
	}
	if s := optString(props, "stdout"); s != nil {
		a.prevStdout = *s
	}
	if s := optString(props, "stderr"); s != nil {
		a.prevStderr = *s
	}
	if v := plain(props["environment"]); v.IsObject() {
		a.environment = map[string]string{}
		for k, e := range v.ObjectValue() {
			if e.IsString() {
				a.environment[string(k)] = e.StringValue()
			}
		}
	}
	cv := plain(props["connection"])
	if !cv.IsObject() {
		return a, errors.New("missing connection")
	}
	c := cv.ObjectValue()
	a.conn = connection{
		user:               defaultUser,
		port:               optInt(c, "port", defaultPort),
		password:           optString(c, "password"),
		privateKey:         optString(c, "privateKey"),
		privateKeyPassword: optString(c, "privateKeyPassword"),
		hostKey:            optString(c, "hostKey"),
		dialErrorLimit:     optInt(c, "dialErrorLimit", defaultDialErrorLimit),
		perDialTimeout:     optInt(c, "perDialTimeout", defaultPerDialTimeout),
	}
	if h := optString(c, "host"); h != nil {
		a.conn.host = *h
	} else {
		return a, errors.New("missing connection.host")
	}
	if u := optString(c, "user"); u != nil {
		a.conn.user = *u
	}
	return a, nil
}

// outputsOf is the state after a run: the inputs as given (secrets stay secret), the whole
// `connection` secret (as the real provider marks it), and the command's stdout and stderr.
func outputsOf(inputs resource.PropertyMap, stdout, stderr resource.PropertyValue) resource.PropertyMap {
	out := inputsOf(inputs)
	if c, ok := out["connection"]; ok && !c.IsNull() && !c.IsSecret() {
		out["connection"] = resource.MakeSecret(c)
	}
	out["stdout"] = stdout
	out["stderr"] = stderr
	return out
}

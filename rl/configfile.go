package rl

import (
	"encoding"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"

	"github.com/dllmrl/agrpo/core/pg"
)

// A config file is Config with every choice (a field type whose pointer is an
// encoding.TextUnmarshaler: a method, a schedule, a remasking rule, …) written as its name, and
// RLConfig.Estimators written as one section [rl.<pg.Section(name)>] per registered estimator,
// its settings' type with their toml tags. The
// file is decoded strictly into that shape, so that an unknown key is an error naming its line,
// and then every choice is parsed by its own UnmarshalText, so that all the bad ones are
// reported together with their keys (as Validate reports the ranges), not only the first.

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	stringType      = reflect.TypeFor[string]()
	estimatorsType  = reflect.TypeFor[Estimators]()
	// configFileType is Config's shape in a file.
	configFileType = sync.OnceValue(func() reflect.Type { return fileType(reflect.TypeFor[Config]()) })
)

// isChoice reports whether values of t are written as their names.
func isChoice(t reflect.Type) bool { return reflect.PointerTo(t).Implements(textUnmarshaler) }

// fileType is t's shape in a file: choices become strings, structs are rebuilt field by field.
func fileType(t reflect.Type) reflect.Type {
	if isChoice(t) {
		return stringType
	}
	if t.Kind() != reflect.Struct {
		return t
	}
	var fields []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue // a settings type's own state, kept by the copy fromFile reads into
		}
		if f.Type != estimatorsType {
			fields = append(fields, reflect.StructField{Name: f.Name, Type: fileType(f.Type), Tag: f.Tag})
			continue
		}
		for j, name := range pg.Names() {
			d, _ := pg.Defaults(name)
			fields = append(fields, reflect.StructField{Name: sectionField(j), Type: fileType(reflect.TypeOf(d)),
				Tag: reflect.StructTag(`toml:"` + pg.Section(name) + `"`)})
		}
	}
	return reflect.StructOf(fields)
}

// sectionField names the field of the j-th registered estimator's section in a file's shape.
func sectionField(j int) string { return fmt.Sprintf("Estimator%d", j) }

// settingsValue is an addressable copy of the settings of the estimator name in e (its defaults
// when e has none), checked to be of its registered type.
func settingsValue(e Estimators, name string) (reflect.Value, error) {
	d, _ := pg.Defaults(name)
	s := e.settings(name)
	if reflect.TypeOf(s) != reflect.TypeOf(d) {
		return reflect.Value{}, fmt.Errorf("settings of type %T, want %T", s, d)
	}
	v := reflect.New(reflect.TypeOf(d)).Elem()
	v.Set(reflect.ValueOf(s))
	return v, nil
}

// toFile writes src (a value of a type whose shape is dst's) into dst.
func toFile(dst, src reflect.Value) error {
	switch {
	case isChoice(src.Type()):
		name, err := src.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return err
		}
		dst.SetString(string(name))
	case src.Kind() == reflect.Struct:
		for i := range src.NumField() {
			f := src.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Type != estimatorsType {
				if err := toFile(dst.FieldByName(f.Name), src.Field(i)); err != nil {
					return fmt.Errorf("%s: %w", tomlKey(f), err)
				}
				continue
			}
			for j, name := range pg.Names() {
				v, err := settingsValue(src.Field(i).Interface().(Estimators), name)
				if err == nil {
					err = toFile(dst.FieldByName(sectionField(j)), v)
				}
				if err != nil {
					return fmt.Errorf("%s: %w", pg.Section(name), err)
				}
			}
		}
	default:
		dst.Set(src)
	}
	return nil
}

// fromFile reads src (a file's shape of dst's type) into dst, parsing every choice; each one
// that does not parse is an error naming its key (prefix, then its toml name) and leaves dst's
// value.
func fromFile(dst, src reflect.Value, key string) []error {
	switch {
	case isChoice(dst.Type()):
		v := reflect.New(dst.Type())
		if err := v.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(src.String())); err != nil {
			return []error{fmt.Errorf("%s: %w", key, err)}
		}
		dst.Set(v.Elem())
	case dst.Kind() == reflect.Struct:
		var errs []error
		for i := range dst.NumField() {
			f := dst.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Type == estimatorsType {
				errs = append(errs, estimatorsFromFile(dst.Field(i), src, key)...)
				continue
			}
			errs = append(errs, fromFile(dst.Field(i), src.FieldByName(f.Name), subKey(key, tomlKey(f)))...)
		}
		return errs
	default:
		dst.Set(src)
	}
	return nil
}

// estimatorsFromFile reads every registered estimator's section of src (a file's shape of the
// struct holding dst, keyed key) into dst, an Estimators. dst gets a map of its own, so that a
// Config copied before decoding keeps its settings.
func estimatorsFromFile(dst, src reflect.Value, key string) []error {
	old := dst.Interface().(Estimators)
	e := maps.Clone(old)
	if e == nil {
		e = Estimators{}
	}
	defer dst.Set(reflect.ValueOf(e))
	var errs []error
	for j, name := range pg.Names() {
		sub := subKey(key, pg.Section(name))
		v, err := settingsValue(old, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", sub, err))
			continue
		}
		errs = append(errs, fromFile(v, src.FieldByName(sectionField(j)), sub)...)
		e[name] = v.Interface().(pg.Settings)
	}
	return errs
}

// subKey is the dotted key of name under key.
func subKey(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

// tomlKey is a field's key in a file.
func tomlKey(f reflect.StructField) string { return strings.Split(f.Tag.Get("toml"), ",")[0] }

// DecodeConfig reads a config file's text over c: strictly (an unknown key or a value of the
// wrong type is an error naming its line), then every choice, reporting each bad one by its key.
// name is the file's name in the errors.
func DecodeConfig(name string, raw []byte, c *Config) error {
	choices, err := decodeConfig(name, raw, c)
	if err == nil && len(choices) > 0 {
		err = fmt.Errorf("config %s: %w", name, errors.Join(choices...))
	}
	return err
}

// decodeConfig is DecodeConfig returning the choices that did not parse apart, for LoadConfig
// to report them with the ranges Validate finds.
func decodeConfig(name string, raw []byte, c *Config) (choices []error, err error) {
	file := reflect.New(configFileType())
	if err := toFile(file.Elem(), reflect.ValueOf(*c)); err != nil {
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	if err := DecodeTOML(name, raw, file.Interface()); err != nil {
		return nil, err
	}
	return fromFile(reflect.ValueOf(c).Elem(), file.Elem(), ""), nil
}

// EncodeConfig is c as a config file's text: every key, choices by name.
func EncodeConfig(c Config) ([]byte, error) {
	file := reflect.New(configFileType()).Elem()
	if err := toFile(file, reflect.ValueOf(c)); err != nil {
		return nil, fmt.Errorf("encoding the config: %w", err)
	}
	return toml.Marshal(file.Interface())
}

package rl

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
)

// A config file is Config with every choice (a field type whose pointer is an
// encoding.TextUnmarshaler: a method, a schedule, a remasking rule, …) written as its name. The
// file is decoded strictly into that shape, so that an unknown key is an error naming its line,
// and then every choice is parsed by its own UnmarshalText, so that all the bad ones are
// reported together with their keys (as Validate reports the ranges), not only the first.

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	stringType      = reflect.TypeFor[string]()
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
		fields = append(fields, reflect.StructField{Name: f.Name, Type: fileType(f.Type), Tag: f.Tag})
	}
	return reflect.StructOf(fields)
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
			if err := toFile(dst.Field(i), src.Field(i)); err != nil {
				return fmt.Errorf("%s: %w", tomlKey(src.Type().Field(i)), err)
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
		if err := dst.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(src.String())); err != nil {
			return []error{fmt.Errorf("%s: %w", key, err)}
		}
	case dst.Kind() == reflect.Struct:
		var errs []error
		for i := range dst.NumField() {
			sub := tomlKey(dst.Type().Field(i))
			if key != "" {
				sub = key + "." + sub
			}
			errs = append(errs, fromFile(dst.Field(i), src.Field(i), sub)...)
		}
		return errs
	default:
		dst.Set(src)
	}
	return nil
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

// A stand-in for the Twilio Voice JS SDK bundle, served in its place by the browser tests: Twilio cannot be
// reached from here, so an incoming call is rung by the test through window.__fakeTwilio.ring(parameters).
// It implements only what the console uses: Device(token, options), on, register, destroy, updateToken, connect
// (an outgoing call: its params are kept in window.__fakeTwilio.connected), and calls with parameters, on,
// accept, reject and disconnect.
(function () {
  function Emitter() {
    this._handlers = {};
  }
  Emitter.prototype.on = function (name, handler) {
    (this._handlers[name] = this._handlers[name] || []).push(handler);
    return this;
  };
  Emitter.prototype.emit = function (name) {
    var args = Array.prototype.slice.call(arguments, 1);
    (this._handlers[name] || []).forEach(function (handler) {
      handler.apply(null, args);
    });
  };

  function Call(parameters) {
    Emitter.call(this);
    this.parameters = parameters;
    this.accepted = false;
    this.rejected = false;
    this.disconnected = false;
  }
  Call.prototype = Object.create(Emitter.prototype);
  Call.prototype.accept = function () {
    this.accepted = true;
    this.emit("accept", this);
  };
  Call.prototype.reject = function () {
    this.rejected = true;
    this.emit("reject");
  };
  Call.prototype.disconnect = function () {
    this.disconnected = true;
    this.emit("disconnect", this);
  };

  function Device(token, options) {
    Emitter.call(this);
    this.token = token;
    this.options = options;
    window.__fakeTwilio.device = this;
  }
  Device.prototype = Object.create(Emitter.prototype);
  Device.prototype.register = function () {
    var device = this;
    window.setTimeout(function () {
      device.emit("registered");
    }, 0);
    return Promise.resolve();
  };
  Device.prototype.connect = function (options) {
    var call = new Call((options && options.params) || {});
    window.__fakeTwilio.connected.push(call.parameters);
    this.calls = [call];
    return Promise.resolve(call);
  };
  Device.prototype.destroy = function () {};
  Device.prototype.updateToken = function (token) {
    this.token = token;
  };

  window.__fakeTwilio = {
    device: null,
    calls: [],
    connected: [],
    ring: function (parameters) {
      var call = new Call(parameters);
      this.calls.push(call);
      this.device.emit("incoming", call);
      return this.calls.length - 1;
    },
  };
  window.Twilio = { Device: Device };
})();

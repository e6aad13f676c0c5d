-- Argo CD health check for apigee.keyoperator.io objects (DeveloperAppKey,
-- ApigeeConnection and ClusterApigeeConnection share this script).
-- Argo CD does not open the string library: no string functions here.
local hs = {}

-- Ready=False reasons the operator retries by itself: still converging.
local transient = {
  Progressing = true,
  ReconcileFailed = true,
  Unreachable = true,
  RateLimited = true,
  ConnectionNotReady = true,
  Deleting = true,
  Paused = true,
}

-- Every other Ready=False reason needs a person and is Degraded: KeyConflict,
-- SecretNotFound, InvalidCredentials, DeveloperNotFound, AppNotFound,
-- ProductNotFound, InvalidRequest, ConnectionNotFound, ConnectionNotAllowed,
-- Unauthorized, Forbidden, InvalidSpec, AmbientCredentialsNotAllowed,
-- LocationChanged, ImportUnconfirmed, KeyExpired, AppRevoked,
-- ExpiryNotSupported, Drifted;
-- and a reason this script does not know yet, so a new failure is never hidden
-- as Progressing.

local function condition(status, type)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

-- The condition's message, or its reason when the message is empty.
local function describe(c, fallback)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local function result(status, message)
  hs.status = status
  hs.message = message
  return hs
end

local annotations = obj.metadata.annotations
if annotations ~= nil and annotations["apigee.keyoperator.io/paused"] == "true" then
  return result("Suspended", "Reconciling is paused by the apigee.keyoperator.io/paused annotation")
end

if obj.status == nil then
  return result("Progressing", "Waiting for the operator to reconcile")
end

local ready = condition(obj.status, "Ready")
local observed = obj.status.observedGeneration
if observed == nil and ready ~= nil then
  observed = ready.observedGeneration
end
local generation = obj.metadata.generation
if generation ~= nil and (observed == nil or observed < generation) then
  return result("Progressing", "Waiting for the operator to observe generation " .. generation)
end

-- Stalled=True: the operator says the object waits on a person (its
-- releases from kstatus support on), whatever the Ready reason.
local stalled = condition(obj.status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  return result("Degraded", describe(stalled, "Stalled"))
end

if ready == nil then
  return result("Progressing", "Waiting for the Ready condition")
end
if ready.status == "True" then
  return result("Healthy", describe(ready, "Ready"))
end
if ready.status ~= "False" or transient[ready.reason] then
  return result("Progressing", describe(ready, "Converging"))
end
return result("Degraded", describe(ready, "Not ready"))
